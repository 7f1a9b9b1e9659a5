//! The listeners' accept path, shared by the gRPC and the HTTP port: TCP accept with
//! `TCP_NODELAY`, the PROXY protocol header when the listener expects one, then the TLS
//! handshake when TLS is on. Each connection is set up on its own task with a deadline, so a
//! slow or silent client holds up nobody else; ready connections are handed to tonic (as a
//! stream) or axum (as a [`axum::serve::Listener`]) with the [`Connection`] facts they carry.

use std::{
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tokio_stream::{Stream, StreamExt, wrappers::ReceiverStream};

use super::{TrustedProxies, tls::TlsConfig};

/// How long a new connection may take to send its PROXY header and finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How a listener sets up its connections.
#[derive(Clone)]
pub struct ListenerOptions {
    /// TLS, when configured.
    pub tls: Option<Arc<TlsConfig>>,
    /// Whether every connection starts with a PROXY protocol (v1 or v2) header.
    pub proxy_protocol: bool,
    /// Which peers may send a PROXY header (and forwarding headers).
    pub trusted_proxies: Arc<TrustedProxies>,
}

/// What is known about a connection once it is set up; requests carry it in their extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connection {
    /// The peer: the TCP peer, or the source a PROXY protocol header named.
    pub peer: SocketAddr,
    /// The TCP peer itself (the load balancer, when a PROXY header was read).
    pub tcp_peer: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// Whether the client presented a certificate that the client CA verified.
    pub client_certificate: bool,
}

/// A connection ready for HTTP: plain TCP or TLS over it.
pub struct EdgeStream {
    io: EdgeIo,
    connection: Connection,
}

enum EdgeIo {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl EdgeStream {
    /// What is known about the connection.
    pub fn connection(&self) -> Connection {
        self.connection
    }
}

impl AsyncRead for EdgeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            EdgeIo::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            EdgeIo::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for EdgeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            EdgeIo::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            EdgeIo::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().io {
            EdgeIo::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            EdgeIo::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            EdgeIo::Plain(stream) => stream.is_write_vectored(),
            EdgeIo::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            EdgeIo::Plain(stream) => Pin::new(stream).poll_flush(cx),
            EdgeIo::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            EdgeIo::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            EdgeIo::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }
}

impl tonic::transport::server::Connected for EdgeStream {
    type ConnectInfo = Connection;

    fn connect_info(&self) -> Connection {
        self.connection
    }
}

/// Accepted and set-up connections of one port.
pub struct EdgeListener {
    local: SocketAddr,
    ready: mpsc::Receiver<EdgeStream>,
    accepting: AbortOnDrop,
}

impl EdgeListener {
    /// Starts accepting on `listener`.
    pub fn new(listener: TcpListener, options: ListenerOptions) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, ready) = mpsc::channel(256);
        let accepting = AbortOnDrop(tokio::spawn(accept_loop(listener, options, sender)));
        Ok(Self {
            local,
            ready,
            accepting,
        })
    }

    /// The bound address.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The connections as the stream tonic serves from.
    pub fn into_stream(self) -> impl Stream<Item = Result<EdgeStream, io::Error>> {
        let EdgeListener {
            ready, accepting, ..
        } = self;
        // The accept task lives as long as the stream does.
        ReceiverStream::new(ready).map(move |stream| {
            let _accepting = &accepting;
            Ok(stream)
        })
    }
}

/// Stops the accept task when the server lets go of its connections.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl axum::serve::Listener for EdgeListener {
    type Io = EdgeStream;
    type Addr = Connection;

    async fn accept(&mut self) -> (EdgeStream, Connection) {
        match self.ready.recv().await {
            Some(stream) => {
                let connection = stream.connection;
                (stream, connection)
            }
            // The accept task ended (it only does when aborted): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Connection> {
        Ok(Connection {
            peer: self.local,
            tcp_peer: self.local,
            tls: false,
            client_certificate: false,
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, EdgeListener>>
    for Connection
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, EdgeListener>) -> Self {
        *stream.remote_addr()
    }
}

async fn accept_loop(
    listener: TcpListener,
    options: ListenerOptions,
    ready: mpsc::Sender<EdgeStream>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = ready.closed() => return,
        };
        let (stream, tcp_peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors or similar: say so, and give the system a moment
                // rather than spinning on the same error.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(error) = stream.set_nodelay(true) {
            // Without it, Nagle's algorithm holds replies for the client's delayed ACK.
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let options = options.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, set_up(stream, tcp_peer, &options)).await
            {
                Ok(Ok(stream)) => {
                    let _ = ready.send(stream).await;
                }
                Ok(Err(error)) => {
                    tracing::debug!(peer = %tcp_peer, %error, "connection refused at set-up")
                }
                Err(_) => tracing::debug!(peer = %tcp_peer, "connection set-up timed out"),
            }
        });
    }
}

/// Why a connection was closed before any request.
#[derive(Debug, thiserror::Error)]
pub enum SetUpError {
    /// A PROXY header from a peer that is not a trusted proxy.
    #[error("PROXY protocol header from {0}, which is not in trusted_proxies")]
    UntrustedProxy(IpAddr),
    /// The PROXY header was missing or malformed.
    #[error("bad PROXY protocol header: {0}")]
    ProxyHeader(String),
    /// Reading or the TLS handshake failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

async fn set_up(
    mut stream: TcpStream,
    tcp_peer: SocketAddr,
    options: &ListenerOptions,
) -> Result<EdgeStream, SetUpError> {
    let mut peer = tcp_peer;
    if options.proxy_protocol {
        // Anyone who can reach the port could otherwise claim any source address.
        if !options.trusted_proxies.contains(tcp_peer.ip()) {
            return Err(SetUpError::UntrustedProxy(tcp_peer.ip()));
        }
        if let Some(source) = read_proxy_header(&mut stream).await? {
            peer = source;
        }
    }
    let connection = Connection {
        peer,
        tcp_peer,
        tls: options.tls.is_some(),
        client_certificate: false,
    };
    let io = match &options.tls {
        None => EdgeIo::Plain(stream),
        Some(tls) => {
            let stream = tls.acceptor().accept(stream).await?;
            let client_certificate = stream
                .get_ref()
                .1
                .peer_certificates()
                .is_some_and(|certs| !certs.is_empty());
            return Ok(EdgeStream {
                io: EdgeIo::Tls(Box::new(stream)),
                connection: Connection {
                    client_certificate,
                    ..connection
                },
            });
        }
    };
    Ok(EdgeStream { io, connection })
}

/// The v2 header's fixed signature.
const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, CRLF included (the protocol's own limit).
const V1_MAX: usize = 107;

/// Reads exactly the PROXY header, never a byte of what follows it. The source address it
/// names, or `None` for a `LOCAL` / `UNKNOWN` header (a health check from the proxy itself).
async fn read_proxy_header(stream: &mut TcpStream) -> Result<Option<SocketAddr>, SetUpError> {
    // 12 bytes are safe to read: the shortest v1 header, "PROXY UNKNOWN\r\n", has 15.
    let mut header = vec![0u8; 12];
    stream.read_exact(&mut header).await?;
    if header[..] == V2_SIGNATURE {
        let mut rest = [0u8; 4];
        stream.read_exact(&mut rest).await?;
        header.extend_from_slice(&rest);
        let length = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let start = header.len();
        header.resize(start + length, 0);
        stream.read_exact(&mut header[start..]).await?;
    } else if header.starts_with(b"PROXY ") {
        // The line ends at CRLF; read byte by byte so nothing after it is consumed.
        while !header.ends_with(b"\r\n") {
            if header.len() >= V1_MAX {
                return Err(SetUpError::ProxyHeader(
                    "v1 header longer than 107 bytes".into(),
                ));
            }
            header.push(stream.read_u8().await?);
        }
    } else {
        return Err(SetUpError::ProxyHeader(
            "the connection did not start with a PROXY header (v1 or v2)".into(),
        ));
    }
    parse_proxy_header(&header)
}

fn parse_proxy_header(header: &[u8]) -> Result<Option<SocketAddr>, SetUpError> {
    let bad = |error: &dyn std::fmt::Display| SetUpError::ProxyHeader(error.to_string());
    match ppp::HeaderResult::parse(header) {
        ppp::HeaderResult::V1(Ok(parsed)) => Ok(match parsed.addresses {
            ppp::v1::Addresses::Tcp4(ip) => Some(SocketAddr::new(
                IpAddr::V4(ip.source_address),
                ip.source_port,
            )),
            ppp::v1::Addresses::Tcp6(ip) => Some(SocketAddr::new(
                IpAddr::V6(ip.source_address),
                ip.source_port,
            )),
            ppp::v1::Addresses::Unknown => None,
        }),
        ppp::HeaderResult::V2(Ok(parsed)) => Ok(match (parsed.command, parsed.addresses) {
            (ppp::v2::Command::Local, _) => None,
            (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv4(ip)) => Some(SocketAddr::new(
                IpAddr::V4(ip.source_address),
                ip.source_port,
            )),
            (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv6(ip)) => Some(SocketAddr::new(
                IpAddr::V6(ip.source_address),
                ip.source_port,
            )),
            (ppp::v2::Command::Proxy, _) => None,
        }),
        ppp::HeaderResult::V1(Err(error)) => Err(bad(&error)),
        ppp::HeaderResult::V2(Err(error)) => Err(bad(&error)),
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let client = TcpStream::connect(address).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    fn v2_ipv4(source: [u8; 4], port: u16) -> Vec<u8> {
        let mut header = V2_SIGNATURE.to_vec();
        header.extend_from_slice(&[0x21, 0x11, 0, 12]);
        header.extend_from_slice(&source);
        header.extend_from_slice(&[10, 0, 0, 1]);
        header.extend_from_slice(&port.to_be_bytes());
        header.extend_from_slice(&443u16.to_be_bytes());
        header
    }

    #[tokio::test]
    async fn v1_and_v2_headers_name_the_source_and_leave_the_rest_unread() {
        let cases: [(Vec<u8>, Option<&str>); 4] = [
            (
                b"PROXY TCP4 198.51.100.7 10.0.0.1 51234 443\r\n".to_vec(),
                Some("198.51.100.7:51234"),
            ),
            (
                b"PROXY TCP6 2001:db8::7 2001:db8::1 51234 443\r\n".to_vec(),
                Some("[2001:db8::7]:51234"),
            ),
            (b"PROXY UNKNOWN\r\n".to_vec(), None),
            (v2_ipv4([203, 0, 113, 9], 4711), Some("203.0.113.9:4711")),
        ];
        for (header, expected) in cases {
            let (mut client, mut server) = pair().await;
            client.write_all(&header).await.unwrap();
            client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
            let source = read_proxy_header(&mut server).await.unwrap();
            assert_eq!(source, expected.map(|text| text.parse().unwrap()));
            let mut next = [0u8; 3];
            server.read_exact(&mut next).await.unwrap();
            assert_eq!(&next, b"GET", "the request after the header is untouched");
        }
    }

    #[tokio::test]
    async fn a_missing_or_broken_header_is_refused() {
        for bytes in [
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            b"PROXY TCP4 not-an-ip 10.0.0.1 1 2\r\n".to_vec(),
        ] {
            let (mut client, mut server) = pair().await;
            client.write_all(&bytes).await.unwrap();
            assert!(read_proxy_header(&mut server).await.is_err());
        }
    }

    #[tokio::test]
    async fn a_proxy_listener_refuses_peers_that_are_not_trusted() {
        let (_client, server) = pair().await;
        let peer = server.peer_addr().unwrap();
        let options = ListenerOptions {
            tls: None,
            proxy_protocol: true,
            trusted_proxies: Arc::new(TrustedProxies::parse(&["10.9.9.9"]).unwrap()),
        };
        let refused = set_up(server, peer, &options).await.err().unwrap();
        assert!(
            matches!(refused, SetUpError::UntrustedProxy(_)),
            "{refused}"
        );
    }

    #[tokio::test]
    async fn accepted_connections_have_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let options = ListenerOptions {
            tls: None,
            proxy_protocol: false,
            trusted_proxies: Arc::default(),
        };
        let mut incoming = Box::pin(EdgeListener::new(listener, options).unwrap().into_stream());
        let client = TcpStream::connect(address).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        let EdgeIo::Plain(stream) = &accepted.io else {
            panic!("plain expected")
        };
        assert!(stream.nodelay().unwrap());
        assert_eq!(
            accepted.connection().peer,
            client.local_addr().unwrap(),
            "the peer is the client"
        );
    }
}
