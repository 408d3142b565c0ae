// The messages of libevent's test/regress.rpc, declared with `message!`
// (included by the tests and examples that speak them).

runtime_rpc::message! {
    /// regress.rpc `msg`.
    pub struct Msg {
        required from_name: String = 1,
        required to_name: String = 2,
        optional attack: Kill = 3,
        array run: Run = 4,
    }

    /// regress.rpc `kill`.
    pub struct Kill {
        required weapon: String = 0x10121,
        required action: String = 2,
        array how_often: u32 = 3,
    }

    /// regress.rpc `run`.
    pub struct Run {
        required how: String = 1,
        optional some_bytes: Vec<u8> = 2,
        required fixed_bytes: [u8; 24] = 3,
        array notes: String = 4,
        optional large_number: u64 = 5,
        array other_numbers: u32 = 6,
    }
}
