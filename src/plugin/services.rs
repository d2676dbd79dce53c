//! go-plugin's side services: the controller (Shutdown), stdio and the broker.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::server::proto::google::protobuf::Empty as ProtobufEmpty;
use crate::server::proto::plugin::{self, ConnInfo, Empty, StdioData};

/// `Shutdown` stops the server; Terraform waits only 2 s before killing the process.
pub struct Controller {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl plugin::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!(tf_rpc = "Shutdown", "shutdown requested by Terraform");
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// A response stream that sends nothing and ends when the server shuts down or the client goes.
/// go-plugin treats the end of such a stream as routine (it logs at debug level).
fn idle_stream<T: Send + 'static>(shutdown: CancellationToken) -> BoxStream<T> {
    let (sender, receiver) = mpsc::channel::<Result<T, Status>>(1);
    tokio::spawn(async move {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = sender.closed() => {}
        }
    });
    Box::pin(ReceiverStream::new(receiver))
}

/// We log to stderr ourselves, so there is nothing to forward.
pub struct Stdio {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl plugin::grpc_stdio_server::GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<ProtobufEmpty>,
    ) -> Result<Response<BoxStream<StdioData>>, Status> {
        Ok(Response::new(idle_stream(self.shutdown.clone())))
    }
}

/// Terraform opens the broker stream but never brokers a connection: accept it and idle.
pub struct Broker {
    pub shutdown: CancellationToken,
}

#[tonic::async_trait]
impl plugin::grpc_broker_server::GrpcBroker for Broker {
    async fn start_stream(
        &self,
        _request: Request<tonic::Streaming<ConnInfo>>,
    ) -> Result<Response<BoxStream<ConnInfo>>, Status> {
        Ok(Response::new(idle_stream(self.shutdown.clone())))
    }
}
