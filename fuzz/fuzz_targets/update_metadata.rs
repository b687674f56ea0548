#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_update::internal::fuzz_metadata(data));
