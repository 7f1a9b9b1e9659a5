//! Generates the foreign-language sources from the built library:
//! `uniffi-bindgen generate --library libgatehouse_uniffi.so --language kotlin --out-dir DIR`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
