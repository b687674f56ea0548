//! A fence around libraries that may panic on outside data.

/// Runs `f` and turns a panic inside it into `Err` with the panic's message.
///
/// Vigil's own code does not panic on outside data; some libraries do on input they did not
/// expect (tract reaches a `todo!()` for some reshapes of an ONNX graph). Where such a library
/// is handed a user's file, this fence makes that an error naming the file instead of a crash.
/// The default panic hook still prints the library's message to standard error first.
///
/// ```
/// let r = vigil_core::catch_panic(|| -> u8 { panic!("not yet implemented") });
/// assert_eq!(r, Err("not yet implemented".to_string()));
/// assert_eq!(vigil_core::catch_panic(|| 7), Ok(7));
/// ```
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}
