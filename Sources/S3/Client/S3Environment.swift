import Foundation

extension S3Configuration {
    /// A configuration the way the AWS CLI finds one.
    ///
    /// - Credentials: the AWS SDKs' default chain
    ///   (``S3CredentialProviderChain/default(environment:profile:)``): environment keys, the
    ///   profile (`profile`, else `AWS_PROFILE`, else `default`) of the shared credentials file
    ///   (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`) and config file
    ///   (`AWS_CONFIG_FILE`, else `~/.aws/config`) with static keys, `credential_process` or an
    ///   assumed role, web identity (EKS), the container endpoint (ECS, EKS Pod Identity), EC2
    ///   instance metadata. Temporary credentials are fetched when first needed and refreshed
    ///   before they expire.
    /// - Region: `region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's
    ///   `region`, else `us-east-1` (`auto` for Cloudflare R2).
    /// - Endpoint: `endpoint`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else the
    ///   profile's `endpoint_url`, else AWS's regional endpoint.
    /// - CA bundle (PEM certificates to trust instead of the system's): `AWS_CA_BUNDLE`, else
    ///   the profile's `ca_bundle`.
    ///
    /// Throws ``S3Error`` (`.invalidArgument`) when no credential source is configured or a
    /// value is malformed; the message never contains a secret. Nothing is sent here.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment,
                                       endpoint: String? = nil, region: String? = nil, profile: String? = nil,
                                       addressingStyle: AddressingStyle = .automatic) throws -> S3Configuration {
        let source = DefaultCredentialSource(environment: AWSEnvironment(environment), profile: profile)
        let env = source.environment
        let profileSettings = source.files.profile(source.profileName)
        let provider = try source.provider()
        let resolvedRegion: String? = region ?? env["AWS_REGION"] ?? env["AWS_DEFAULT_REGION"] ?? profileSettings["region"]
        let resolvedEndpoint = endpoint ?? env["AWS_ENDPOINT_URL_S3"] ?? env["AWS_ENDPOINT_URL"] ?? profileSettings["endpoint_url"]
            ?? "https://s3.\(resolvedRegion ?? "us-east-1").amazonaws.com"
        var configuration = try S3Configuration(endpoint: resolvedEndpoint, region: resolvedRegion, credentialProvider: provider,
                                                addressingStyle: addressingStyle)
        if let bundle = env["AWS_CA_BUNDLE"] ?? profileSettings["ca_bundle"] {
            guard FileManager.default.isReadableFile(atPath: bundle) else {
                throw S3Error.invalidArgument("the CA bundle \(bundle) (AWS_CA_BUNDLE or ca_bundle) cannot be read")
            }
            configuration.http.tls.caBundlePath = bundle
        }
        return configuration
    }
}
