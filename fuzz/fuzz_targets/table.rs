#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_table::internal::fuzz_table(data));
