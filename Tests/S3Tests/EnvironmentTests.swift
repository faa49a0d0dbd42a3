import Foundation
import Testing
@testable import S3

@Suite struct EnvironmentTests {
    func tempFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("aws-\(UUID())").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func environmentVariablesWin() throws {
        let c = try S3Configuration.fromEnvironment([
            "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET", "AWS_SESSION_TOKEN": "TOKEN",
            "AWS_REGION": "eu-central-1", "AWS_DEFAULT_REGION": "us-west-2",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
            "HOME": "/nonexistent",
        ])
        #expect(c.credentials == S3Credentials(accessKeyID: "AKID", secretAccessKey: "SECRET", sessionToken: "TOKEN"))
        #expect(c.region == "eu-central-1")
        #expect(c.endpoint.description == "http://127.0.0.1:9000")
    }

    @Test func profilesFromTheSharedFiles() throws {
        let credentials = try tempFile("""
        [default]
        aws_access_key_id = DEFAULTKEY
        aws_secret_access_key = defaultsecret
        # a comment
        [work]
        aws_access_key_id=WORKKEY
        aws_secret_access_key = work/secret+key
        """)
        let config = try tempFile("""
        [default]
        region = ap-south-1
        [profile work]
        region = eu-west-3
        endpoint_url = http://127.0.0.1:9999/prefix
        s3 =
          addressing_style = path
        """)
        defer { try? FileManager.default.removeItem(atPath: credentials); try? FileManager.default.removeItem(atPath: config) }
        let env = ["AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": config, "HOME": "/nonexistent"]
        let d = try S3Configuration.fromEnvironment(env)
        #expect(d.credentials?.accessKeyID == "DEFAULTKEY")
        #expect(d.region == "ap-south-1")
        #expect(d.endpoint.description == "https://s3.ap-south-1.amazonaws.com")
        var workEnv = env
        workEnv["AWS_PROFILE"] = "work"
        let w = try S3Configuration.fromEnvironment(workEnv)
        #expect(w.credentials?.secretAccessKey == "work/secret+key")
        #expect(w.region == "eu-west-3")
        #expect(w.endpoint.description == "http://127.0.0.1:9999/prefix")
        let explicit = try S3Configuration.fromEnvironment(workEnv, endpoint: "http://[::1]:9000", region: "us-east-2")
        #expect(explicit.region == "us-east-2")
        #expect(explicit.endpoint.description == "http://[::1]:9000")
    }

    @Test func missingCredentialsSayWhereTheyWereLookedFor() {
        let e = #expect(throws: S3Error.self) {
            try S3Configuration.fromEnvironment(["HOME": "/nonexistent", "AWS_SECRET_ACCESS_KEY": "only-the-secret",
                                                 "AWS_EC2_METADATA_DISABLED": "true"])
        }
        #expect(e?.code == .invalidArgument)
        #expect(e?.message.contains("AWS_ACCESS_KEY_ID") == true)
        #expect(e?.message.contains("only-the-secret") == false)
    }

    @Test func automaticAddressing() throws {
        let aws = S3Addressing(endpoint: try S3Endpoint("https://s3.eu-west-1.amazonaws.com"), style: .automatic)
        #expect(aws.target(bucket: "photos", key: "a", query: []).url == "https://photos.s3.eu-west-1.amazonaws.com/a")
        #expect(aws.target(bucket: "my.dotted.bucket", key: "a", query: []).url == "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/a")
        let local = S3Addressing(endpoint: try S3Endpoint("http://127.0.0.1:9000"), style: .automatic)
        #expect(local.target(bucket: "photos", key: "a", query: []).url == "http://127.0.0.1:9000/photos/a")
    }
}
