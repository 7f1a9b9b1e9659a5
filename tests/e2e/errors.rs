//! Every error the server returns is in the standard gRPC error model, and a body that does not
//! decode is the client's mistake: random, truncated and mistyped protobuf bytes sent to every RPC
//! of the contract never get `INTERNAL` or `UNKNOWN`, every refusal carries `google.rpc.ErrorInfo`,
//! and the server stays healthy with its data intact.

use bytes::{Buf, BufMut};
use gatehouse_proto::v1 as pb;
use prost::Message as _;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tonic::{
    Code, Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};
use tonic_types::StatusExt;

use crate::harness::{ADMIN_TOKEN, Server, api_key, bearer, create_tenant};

/// Sends and receives message bytes as they are.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        buf.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(buf.copy_to_bytes(buf.remaining()).to_vec()))
    }
}

/// Every unary method of the contract, as `/gatehouse.v1.Service/Method`.
fn every_method() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(gatehouse_proto::FILE_DESCRIPTOR_SET).unwrap();
    let mut methods = Vec::new();
    for file in set.file {
        for service in &file.service {
            for method in &service.method {
                methods.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    assert!(methods.len() > 30, "{methods:?}");
    methods
}

/// Bodies that are not the message a method takes: wrong wire types, lengths past the end,
/// truncated varints, deep nesting, and random bytes.
fn bad_bodies(rng: &mut StdRng) -> Vec<Vec<u8>> {
    let mut bodies = vec![
        vec![0x0a],                                     // field 1, length-delimited, no length
        vec![0x0a, 0x7f, b'x'],                         // a length past the end
        vec![0x08, 0xff, 0xff],                         // a varint that never ends
        vec![0x0d, 0x01, 0x02],                         // fixed32 cut short
        vec![0x11, 0x01],                               // fixed64 cut short
        vec![0x0b],                                     // start group (deprecated wire type)
        vec![0x0f],                                     // wire type 7 does not exist
        vec![0x00, 0x00],                               // field number 0
        vec![0x08, 0x01, 0x0a, 0x03, 0xff, 0xfe, 0xfd], // an int where a string is, then bad UTF-8
    ];
    // A message nested deeper than prost allows.
    let mut nested = Vec::new();
    for _ in 0..120 {
        let mut outer = vec![0x1a];
        let mut length = Vec::new();
        prost::encoding::encode_varint(nested.len() as u64, &mut length);
        outer.extend_from_slice(&length);
        outer.extend_from_slice(&nested);
        nested = outer;
    }
    bodies.push(nested);
    for _ in 0..12 {
        let length = rng.random_range(1..96);
        bodies.push((0..length).map(|_| rng.random::<u8>()).collect());
    }
    bodies
}

#[tokio::test]
async fn undecodable_bodies_to_every_rpc_are_invalid_argument_with_error_info() {
    let server = Server::start().await;
    let tenant = create_tenant(&server, "shop", None).await;
    let channel = server.channel().await;
    let mut rng = StdRng::seed_from_u64(0x6a7e_4005e);
    let mut sent = 0usize;
    for method in every_method() {
        let admin_only = ["CreateTenant", "ListTenants", "RotateKey", "RevokeKey"]
            .iter()
            .any(|name| method.ends_with(&format!("/{name}")));
        for body in bad_bodies(&mut rng) {
            let mut request = if admin_only {
                bearer(body.clone(), ADMIN_TOKEN)
            } else {
                api_key(body.clone(), &tenant.secret_key)
            };
            request.set_timeout(std::time::Duration::from_secs(10));
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            grpc.ready().await.unwrap();
            let path = http::uri::PathAndQuery::try_from(method.as_str()).unwrap();
            let answer = grpc.unary(request, path, RawCodec).await;
            sent += 1;
            let Err(status) = answer else {
                // Some random bytes happen to be a valid (if odd) message; that is fine.
                continue;
            };
            assert!(
                !matches!(status.code(), Code::Internal | Code::Unknown),
                "{method} with {body:02x?}: {status:?}\n{}",
                server.log()
            );
            let info = status
                .get_details_error_info()
                .unwrap_or_else(|| panic!("{method}: no ErrorInfo in {status:?}"));
            assert_eq!(info.domain, "gatehouse");
            assert_eq!(
                status.metadata().get("x-gatehouse-reason").unwrap(),
                info.reason.as_str()
            );
        }
    }
    assert!(sent > 600, "{sent}");
    assert!(
        !server.log().contains("panicked"),
        "a handler panicked:\n{}",
        server.log()
    );

    // Still healthy, and what was stored before is still there.
    let tenants = gatehouse_proto::v1::admin_service_client::AdminServiceClient::new(channel)
        .get_tenant(api_key(
            pb::GetTenantRequest {
                tenant_id: tenant.id.clone(),
            },
            &tenant.secret_key,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tenants.tenant.unwrap().name, "shop");
}

#[tokio::test]
async fn refusals_name_the_field_in_error_info_and_unknown_methods_are_unimplemented() {
    let server = Server::start().await;
    let tenant = create_tenant(&server, "shop", None).await;
    let channel = server.channel().await;
    let invalid =
        gatehouse_proto::v1::blocker_service_client::BlockerServiceClient::new(channel.clone())
            .check_visitor(api_key(
                pb::CheckVisitorRequest {
                    ip: "not-an-ip".into(),
                    ua: "Mozilla/5.0".into(),
                    url: "/".into(),
                },
                &tenant.secret_key,
            ))
            .await
            .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let info = invalid.get_details_error_info().unwrap();
    assert_eq!(info.reason, "INVALID_REQUEST");
    assert_eq!(info.metadata["field"], "ip");
    assert_eq!(
        invalid.get_details_bad_request().unwrap().field_violations[0].field,
        "ip"
    );

    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let unknown = grpc
        .unary(
            api_key(Vec::new(), &tenant.secret_key),
            http::uri::PathAndQuery::from_static("/gatehouse.v1.BlockerService/NoSuchMethod"),
            RawCodec,
        )
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::Unimplemented);
    assert_eq!(
        unknown.get_details_error_info().unwrap().reason,
        "UNIMPLEMENTED"
    );
}
