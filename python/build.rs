//! Link arguments for an extension module that does not link libpython: none on Linux;
//! `-undefined dynamic_lookup` on macOS, where the linker otherwise refuses the undefined
//! Python symbols.

fn main() {
    pyo3_build_config::add_extension_module_link_args();
}
