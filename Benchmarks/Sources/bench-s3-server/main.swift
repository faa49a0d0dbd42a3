// A fast in-memory S3 server for benchmarks only (never used by the library or its tests):
// path-style buckets and objects, ranged GET and HEAD, multipart uploads, ListObjectsV2 with
// continuation, DeleteObjects. It checks no signatures. Listens on 127.0.0.1.
//
// Usage: bench-s3-server [--port N] [--port-file PATH] [--threads N]
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

var port = 0, threads = System.coreCount
var portFile: String?
var args = CommandLine.arguments.dropFirst()
while let arg = args.popFirst() {
    switch arg {
    case "--port": port = Int(args.popFirst() ?? "") ?? 0
    case "--port-file": portFile = args.popFirst()
    case "--threads": threads = Int(args.popFirst() ?? "") ?? threads
    default:
        FileHandle.standardError.write(Data("usage: bench-s3-server [--port N] [--port-file PATH] [--threads N]\n".utf8))
        exit(64)
    }
}

let store = ObjectStore()
let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 512)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 65536, maximum: 1 << 20))
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(S3Handler(store: store))
        }
    }
let channel = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
let bound = channel.localAddress?.port ?? port
if let portFile { try String(bound).write(toFile: portFile, atomically: true, encoding: .utf8) }
print("bench-s3-server listening on http://127.0.0.1:\(bound) with \(threads) threads")
try channel.closeFuture.wait()
