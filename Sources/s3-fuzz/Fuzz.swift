// The fuzz target of the XML parser and every response decoder (scripts/fuzz).
//
// Built with `--sanitize=fuzzer -Xswiftc -DFUZZING`, libFuzzer supplies `main` and calls
// `LLVMFuzzerTestOneInput` with inputs it mutates. Built normally, it is a replay tool:
// `s3-fuzz FILE|DIR...` runs every input once (the seed corpus, or a crash libFuzzer saved).
@_spi(Fuzzing) import S3
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    S3ResponseFuzzing.exercise(size == 0 || data == nil ? [] : Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if !FUZZING
@main
enum Replay {
    static func main() throws {
        var count = 0
        for argument in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("s3-fuzz: no such file or directory: \(argument)\n".utf8))
                exit(64)
            }
            let files = isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: argument).sorted().map { argument + "/" + $0 }
                : [argument]
            for file in files {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
                _ = bytes.withUnsafeBufferPointer { fuzzOneInput($0.baseAddress, $0.count) }
                count += 1
            }
        }
        print("replayed \(count) inputs")
    }
}
#endif
