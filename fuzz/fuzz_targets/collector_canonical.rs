#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vigil_collector::internal::fuzz_canonical(data));
