import Foundation
import S3Locking

/// Tries providers in order and keeps the first that answers: later fetches go to it alone.
///
/// The error when none answers lists each provider's reason, in order.
public final class S3CredentialProviderChain: S3CredentialProvider, CustomStringConvertible, CustomReflectable {
    /// The providers, in the order they are tried.
    public let providers: [any S3CredentialProvider]
    private let chosen = Locked<Int?>(nil)

    /// A chain of `providers`.
    public init(_ providers: [any S3CredentialProvider]) {
        self.providers = providers
    }

    public func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        if let i = chosen.withLock({ $0 }) { return try await providers[i].credentials(context: context) }
        var reasons: [String] = []
        for (i, provider) in providers.enumerated() {
            do {
                let c = try await provider.credentials(context: context)
                chosen.withLock { $0 = i }
                return c
            } catch {
                reasons.append((error as? S3Error)?.message ?? String(describing: error))
            }
        }
        throw S3Error.credentials("no credentials: " + (reasons.isEmpty ? "the chain is empty" : reasons.joined(separator: "; ")))
    }

    /// `dump()` and `Mirror` show the providers (each through its own redacting mirror).
    public var customMirror: Mirror { Mirror(self, children: ["providers": providers], displayStyle: .class) }

    public var description: String { "S3CredentialProviderChain(\(providers.map { "\($0)" }.joined(separator: ", ")))" }

    /// The credential source the AWS SDKs would use, read from `environment` and the shared
    /// config files, in their order; the first source that is configured is the one used
    /// (a configured source that then fails is an error, not a reason to try the next):
    ///
    /// 1. `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`);
    /// 2. the profile (`profile`, else `AWS_PROFILE`, else `default`) of `~/.aws/credentials`
    ///    and `~/.aws/config`: `role_arn` with `source_profile` or `credential_source` (STS
    ///    `AssumeRole`), static keys, `credential_process`;
    /// 3. web identity from the environment (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`),
    ///    then from the profile (`role_arn` + `web_identity_token_file`);
    /// 4. the container endpoint (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `..._FULL_URI`);
    /// 5. EC2 instance metadata (IMDSv2), unless `AWS_EC2_METADATA_DISABLED=true`.
    ///
    /// STS is reached at `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the profile's
    /// `endpoint_url`, else `https://sts.REGION.amazonaws.com`. Throws ``S3Error``
    /// (`.invalidArgument`) for a malformed setting and when no source is configured; nothing
    /// is sent until a client asks for credentials.
    public static func `default`(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 profile: String? = nil) throws -> any S3CredentialProvider {
        try DefaultCredentialSource(environment: AWSEnvironment(environment), profile: profile).provider()
    }
}

/// How ``S3CredentialProviderChain/default(environment:profile:)`` picks a source.
struct DefaultCredentialSource {
    let environment: AWSEnvironment
    let profileName: String
    let files: AWSConfigFiles

    init(environment: AWSEnvironment, profile: String?) {
        self.environment = environment
        self.profileName = profile ?? environment["AWS_PROFILE"] ?? "default"
        self.files = AWSConfigFiles(environment: environment)
    }

    var region: String {
        environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? files.profile(profileName)["region"] ?? "us-east-1"
    }

    func provider() throws(S3Error) -> any S3CredentialProvider {
        if let p = environmentKeys() { return p }
        if let p = try profileProvider(profileName, visited: [], allowWebIdentity: false) { return p }
        if let p = try webIdentityFromEnvironment() { return p }
        let settings = files.profile(profileName)
        if settings["role_arn"] != nil, settings["web_identity_token_file"] != nil,
           let p = try profileProvider(profileName, visited: [], allowWebIdentity: true) { return p }
        if let p = try container() { return p }
        if let p = try instanceMetadata() { return p }
        throw S3Error.invalidArgument(
            "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add profile \"\(profileName)\" to \(files.credentialsPath), "
            + "or set AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE or AWS_CONTAINER_CREDENTIALS_FULL_URI "
            + "(EC2 instance metadata is off: AWS_EC2_METADATA_DISABLED)")
    }

    func environmentKeys() -> S3StaticCredentialProvider? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"] else { return nil }
        return S3StaticCredentialProvider(S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"]),
                                          source: "environment")
    }

    /// The provider profile `name` describes, or nil when it holds no credentials.
    func profileProvider(_ name: String, visited: [String], allowWebIdentity: Bool) throws(S3Error) -> (any S3CredentialProvider)? {
        let s = files.profile(name)
        let keys: S3StaticCredentialProvider? = {
            guard let id = s["aws_access_key_id"], let secret = s["aws_secret_access_key"] else { return nil }
            return S3StaticCredentialProvider(S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: s["aws_session_token"]),
                                              source: "profile \(name)")
        }()
        if let role = s["role_arn"] {
            let profileRegion = s["region"] ?? region
            let sts = STSClient.endpoint(environment: environment, profile: s, region: profileRegion)
            if let tokenFile = s["web_identity_token_file"] {
                guard allowWebIdentity || !visited.isEmpty else { return nil }
                return S3WebIdentityCredentialProvider(roleARN: role, tokenFile: tokenFile, sessionName: s["role_session_name"],
                                                       stsEndpoint: sts, region: profileRegion)
            }
            let source: any S3CredentialProvider
            if let sourceName = s["source_profile"] {
                if sourceName == name {
                    guard let keys else { throw .invalidArgument("profile \(name) is its own source_profile but has no access keys") }
                    source = keys
                } else {
                    guard !visited.contains(sourceName) else {
                        throw .invalidArgument("profile \(name): source_profile makes a cycle (\((visited + [name, sourceName]).joined(separator: " -> ")))")
                    }
                    guard files.hasProfile(sourceName) else { throw .invalidArgument("profile \(name): source_profile \(sourceName) does not exist") }
                    guard let p = try profileProvider(sourceName, visited: visited + [name], allowWebIdentity: true) else {
                        throw .invalidArgument("profile \(name): source_profile \(sourceName) holds no credentials")
                    }
                    source = p
                }
            } else if let kind = s["credential_source"] {
                switch kind {
                case "Environment":
                    guard let p = environmentKeys() else {
                        throw .invalidArgument("profile \(name): credential_source Environment but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set")
                    }
                    source = p
                case "EcsContainer":
                    guard let p = try container() else {
                        throw .invalidArgument("profile \(name): credential_source EcsContainer but no AWS_CONTAINER_CREDENTIALS_* is set")
                    }
                    source = p
                case "Ec2InstanceMetadata":
                    source = try instanceMetadataProvider()
                default:
                    throw .invalidArgument("profile \(name): credential_source \(kind) is not Environment, EcsContainer or Ec2InstanceMetadata")
                }
            } else {
                throw .invalidArgument("profile \(name) has role_arn but no source_profile, credential_source or web_identity_token_file")
            }
            var duration: Int?
            if let d = s["duration_seconds"] {
                guard let v = Int(d), v >= 900 else { throw .invalidArgument("profile \(name): duration_seconds must be a number of seconds >= 900") }
                duration = v
            }
            return S3AssumeRoleCredentialProvider(roleARN: role, sourceProvider: source, sessionName: s["role_session_name"],
                                                  externalID: s["external_id"], durationSeconds: duration, stsEndpoint: sts, region: profileRegion)
        }
        if let keys { return keys }
        if let command = s["credential_process"] { return S3ProcessCredentialProvider(command: command) }
        return nil
    }

    func webIdentityFromEnvironment() throws(S3Error) -> S3WebIdentityCredentialProvider? {
        guard let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"] else { return nil }
        guard let role = environment["AWS_ROLE_ARN"] else {
            throw .invalidArgument("AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not")
        }
        let sts = STSClient.endpoint(environment: environment, profile: files.profile(profileName), region: region)
        return S3WebIdentityCredentialProvider(roleARN: role, tokenFile: tokenFile, sessionName: environment["AWS_ROLE_SESSION_NAME"],
                                               stsEndpoint: sts, region: region)
    }

    func container() throws(S3Error) -> S3ContainerCredentialProvider? {
        if let relative = environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] {
            return try S3ContainerCredentialProvider(relativeURI: relative)
        }
        guard let full = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] else { return nil }
        return try S3ContainerCredentialProvider(fullURI: full, authorizationToken: environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"],
                                                 authorizationTokenFile: environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"])
    }

    func instanceMetadata() throws(S3Error) -> S3InstanceMetadataCredentialProvider? {
        if environment.isTrue("AWS_EC2_METADATA_DISABLED") { return nil }
        return try instanceMetadataProvider()
    }

    func instanceMetadataProvider() throws(S3Error) -> S3InstanceMetadataCredentialProvider {
        let s = files.profile(profileName)
        let mode = (environment["AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE"] ?? s["ec2_metadata_service_endpoint_mode"])?.lowercased()
        let endpoint = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] ?? s["ec2_metadata_service_endpoint"]
            ?? (mode == "ipv6" ? S3InstanceMetadataCredentialProvider.ipv6Endpoint : S3InstanceMetadataCredentialProvider.defaultEndpoint)
        return try S3InstanceMetadataCredentialProvider(endpoint: endpoint)
    }
}
