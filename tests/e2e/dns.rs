//! A tiny authoritative DNS server for tests: answers PTR and A queries from fixed tables over
//! UDP on 127.0.0.1, NXDOMAIN for the rest. It lets the real server's reverse-DNS path run
//! end to end without the internet.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};

use hickory_proto::{
    op::{Message, MessageType, ResponseCode},
    rr::{
        Name, RData, Record, RecordType,
        rdata::{A, PTR},
    },
    serialize::binary::{BinDecodable, BinEncodable},
};

/// A running test DNS server.
pub struct TestDns {
    /// Where it listens.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestDns {
    /// Serves `ptr` (IP -> hostname) and `a` (hostname -> IPv4) records.
    pub async fn start(ptr: &[(&str, &str)], a: &[(&str, &str)]) -> Self {
        let mut records: HashMap<(String, RecordType), RData> = HashMap::new();
        for (ip, host) in ptr {
            let ip: IpAddr = ip.parse().unwrap();
            let name = reverse_name(ip);
            records.insert(
                (name, RecordType::PTR),
                RData::PTR(PTR(Name::from_ascii(format!("{host}.")).unwrap())),
            );
        }
        for (host, ip) in a {
            let ip: Ipv4Addr = ip.parse().unwrap();
            records.insert((format!("{host}."), RecordType::A), RData::A(A(ip)));
        }
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut buffer = vec![0u8; 4096];
            loop {
                let Ok((length, peer)) = socket.recv_from(&mut buffer).await else {
                    return;
                };
                let Ok(query) = Message::from_bytes(&buffer[..length]) else {
                    continue;
                };
                let mut response = Message::new();
                response
                    .set_id(query.id())
                    .set_message_type(MessageType::Response)
                    .set_op_code(query.op_code())
                    .set_recursion_desired(query.recursion_desired())
                    .set_recursion_available(true)
                    .set_authoritative(true);
                response.add_queries(query.queries().to_vec());
                let mut answered = false;
                for question in query.queries() {
                    let key = (
                        question.name().to_ascii().to_ascii_lowercase(),
                        question.query_type(),
                    );
                    if let Some(data) = records.get(&key) {
                        response.add_answer(Record::from_rdata(
                            question.name().clone(),
                            60,
                            data.clone(),
                        ));
                        answered = true;
                    }
                }
                if !answered {
                    response.set_response_code(ResponseCode::NXDomain);
                }
                if let Ok(bytes) = response.to_bytes() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        Self { addr, task }
    }
}

fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa.")
        }
        IpAddr::V6(v6) => {
            let mut name = String::new();
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0x0f, byte >> 4));
            }
            name.push_str("ip6.arpa.");
            name
        }
    }
}
