#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_server::internal::fuzz_server_upstream_answer(data));
