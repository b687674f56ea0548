#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_model::internal::fuzz_contract(data));
