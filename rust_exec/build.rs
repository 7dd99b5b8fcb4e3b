// Generates the gRPC server (and a client, for the tests) from proto/octet/exec/v1/exec.proto.
// protoc comes from the protoc-bin-vendored crate unless PROTOC is set (e.g. Debian's).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?);
    }
    let proto = "../proto/octet/exec/v1/exec.proto";
    println!("cargo:rerun-if-changed={proto}");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_protos(&[proto], &["../proto"])?;
    Ok(())
}
