#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_server::internal::fuzz_server_infer_body(data));
