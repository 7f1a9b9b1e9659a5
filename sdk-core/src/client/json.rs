//! Every RPC by name, with requests and responses in the protobuf JSON mapping.
//!
//! The bindings (Node, Python, Kotlin, Swift) hand JSON across the language boundary instead of
//! mirroring forty message types by hand; the message shapes come from the same descriptor set
//! the server serves over reflection, so a field added to `proto/` reaches every SDK at once.

use std::sync::OnceLock;

use prost::Message;
use prost_reflect::{
    DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor, SerializeOptions,
};
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

use super::{Gatehouse, is_read_only};
use crate::ClientError;

/// How responses are written as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonOptions {
    /// `snake_case` field names as in the `.proto` files instead of the `lowerCamelCase` JSON
    /// names. Requests are accepted in either form regardless.
    pub proto_field_names: bool,
    /// 64-bit integers as strings, as the protobuf JSON mapping says (JavaScript numbers lose
    /// precision above 2^53); numbers otherwise.
    pub int64_as_string: bool,
}

impl JsonOptions {
    /// What JavaScript expects: camelCase names, 64-bit integers as strings.
    pub const CAMEL_CASE: Self = Self {
        proto_field_names: false,
        int64_as_string: true,
    };
    /// What Python, Kotlin and Swift callers expect: snake_case names, plain numbers.
    pub const SNAKE_CASE: Self = Self {
        proto_field_names: true,
        int64_as_string: false,
    };
}

impl Default for JsonOptions {
    fn default() -> Self {
        Self::CAMEL_CASE
    }
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(gatehouse_proto::FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into gatehouse-proto decodes")
    })
}

/// The RPCs of every Gatehouse service as `Service/Method`, for example
/// `SignalService/SendSignal`.
pub fn methods() -> Vec<String> {
    pool()
        .services()
        .filter(|service| service.package_name() == "gatehouse.v1")
        .flat_map(|service| {
            let name = service.name().to_string();
            service
                .methods()
                .map(move |method| format!("{name}/{}", method.name()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Finds `Service/Method`, `gatehouse.v1.Service/Method` or `/gatehouse.v1.Service/Method`.
fn find_method(name: &str) -> Result<MethodDescriptor, ClientError> {
    let unknown = || ClientError::InvalidInput {
        field: Some("method".into()),
        message: format!(
            "method: {name:?} is not a Gatehouse RPC; write it as Service/Method, for example \
             SignalService/SendSignal"
        ),
    };
    let trimmed = name.trim_start_matches('/');
    let (service, method) = trimmed.split_once('/').ok_or_else(unknown)?;
    let service = if service.contains('.') {
        service.to_string()
    } else {
        format!("gatehouse.v1.{service}")
    };
    pool()
        .get_service_by_name(&service)
        .and_then(|service| {
            service
                .methods()
                .find(|candidate| candidate.name() == method)
        })
        .ok_or_else(unknown)
}

impl Gatehouse {
    /// Calls `method` (`Service/Method`) with a JSON request and returns the JSON response.
    ///
    /// The request is checked against the message type before anything is sent: an unknown
    /// field or a wrong type is an [`ClientError::InvalidInput`] naming the field.
    pub async fn call_json(
        &self,
        method: &str,
        request_json: &str,
        options: JsonOptions,
    ) -> Result<String, ClientError> {
        let method = find_method(method)?;
        let request = parse_request(&method.input(), request_json)?;
        let repeatable = is_read_only(method.name())
            || request
                .get_field_by_name("idempotency_key")
                .is_some_and(|key| key.as_str().is_some_and(|key| !key.is_empty()));
        let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
        let codec = DynamicCodec {
            output: method.output(),
        };
        let response = self.unary(&path, request, codec, repeatable).await?;
        let mut json = serde_json::Serializer::new(Vec::new());
        response
            .serialize_with_options(
                &mut json,
                &SerializeOptions::new()
                    .use_proto_field_name(options.proto_field_names)
                    .stringify_64_bit_integers(options.int64_as_string)
                    .skip_default_fields(false),
            )
            .map_err(|error| ClientError::Server {
                message: format!("the response could not be written as JSON: {error}"),
            })?;
        String::from_utf8(json.into_inner()).map_err(|error| ClientError::Server {
            message: format!("the response JSON is not UTF-8: {error}"),
        })
    }
}

fn parse_request(input: &MessageDescriptor, json: &str) -> Result<DynamicMessage, ClientError> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let message = DynamicMessage::deserialize(input.clone(), &mut deserializer)
        .and_then(|message| deserializer.end().map(|()| message))
        .map_err(|error| ClientError::InvalidInput {
            field: Some("request".into()),
            message: format!("request: not a valid {} in JSON: {error}", input.name()),
        })?;
    Ok(message)
}

/// Encodes a dynamic request and decodes the response into the method's output type.
#[derive(Clone)]
struct DynamicCodec {
    output: MessageDescriptor,
}

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder {
            output: self.output.clone(),
        }
    }
}

struct DynamicEncoder;

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|error| Status::internal(format!("encoding the request: {error}")))
    }
}

struct DynamicDecoder {
    output: MessageDescriptor,
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        DynamicMessage::decode(self.output.clone(), src)
            .map(Some)
            .map_err(|error| Status::internal(format!("decoding the response: {error}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_of_the_contract_is_reachable_by_name() {
        let methods = methods();
        for expected in [
            "SignalService/SendSignal",
            "IdentityService/GetIdentityStatus",
            "DecisionService/GetDecision",
            "BlockerService/CheckVisitor",
            "SmartUrlService/Check",
            "VerifyService/Verify",
            "AdminService/CreateTenant",
        ] {
            assert!(
                methods.iter().any(|method| method == expected),
                "{expected}"
            );
            assert!(find_method(expected).is_ok());
            assert!(find_method(&format!("/gatehouse.v1.{expected}")).is_ok());
        }
        assert_eq!(methods.len(), 42, "one per rpc in proto/");
    }

    #[test]
    fn unknown_methods_and_bad_json_name_what_to_fix() {
        let error = find_method("SignalService/Nope").unwrap_err();
        assert!(matches!(
            error,
            ClientError::InvalidInput { field: Some(ref field), .. } if field == "method"
        ));
        let input = find_method("SignalService/SendSignal").unwrap().input();
        let error = parse_request(&input, r#"{"no_such_field": 1}"#).unwrap_err();
        assert!(error.to_string().contains("no_such_field"), "{error}");
        let error = parse_request(&input, r#"{"type": 5}"#).unwrap_err();
        assert!(error.to_string().contains("SendSignalRequest"), "{error}");
    }

    #[test]
    fn requests_accept_both_field_name_styles() {
        let input = find_method("SignalService/SendSignal").unwrap().input();
        for json in [
            r#"{"idempotencyKey": "k1", "source": "SIGNAL_SOURCE_SERVER"}"#,
            r#"{"idempotency_key": "k1", "source": "SIGNAL_SOURCE_SERVER"}"#,
        ] {
            let message = parse_request(&input, json).unwrap();
            assert_eq!(
                message
                    .get_field_by_name("idempotency_key")
                    .unwrap()
                    .as_str(),
                Some("k1")
            );
        }
        assert!(
            parse_request(&input, "  ").is_ok(),
            "empty means an empty message"
        );
    }
}
