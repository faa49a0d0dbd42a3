import Foundation

/// Credentials for an IAM role assumed with an OpenID Connect token from a file: what EKS
/// (IRSA) and other Kubernetes setups mount into a pod (`AWS_ROLE_ARN`,
/// `AWS_WEB_IDENTITY_TOKEN_FILE`, optional `AWS_ROLE_SESSION_NAME`), or a profile's
/// `role_arn` + `web_identity_token_file`.
///
/// Each fetch reads the token file again (the platform rotates it) and calls STS
/// `AssumeRoleWithWebIdentity`, which needs no signature. STS is reached at `stsEndpoint`.
public struct S3WebIdentityCredentialProvider: S3CredentialProvider, CustomStringConvertible {
    /// The role to assume.
    public var roleARN: String
    /// The file holding the web identity token (a JWT).
    public var tokenFile: String
    /// The role session name (`AWS_ROLE_SESSION_NAME`); by default `swift-s3-` and the time.
    public var sessionName: String
    /// The STS endpoint URL.
    public var stsEndpoint: String
    /// The region STS is in.
    public var region: String

    /// A provider assuming `roleARN` with the token in `tokenFile`.
    public init(roleARN: String, tokenFile: String, sessionName: String? = nil, stsEndpoint: String? = nil, region: String = "us-east-1") {
        self.roleARN = roleARN
        self.tokenFile = tokenFile
        self.sessionName = sessionName ?? "swift-s3-\(Int(Date().timeIntervalSince1970))"
        self.region = region
        self.stsEndpoint = stsEndpoint ?? "https://sts.\(region).amazonaws.com"
    }

    public func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        let token: String
        do {
            token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch {
            throw S3Error.credentials("web identity: the token file \(tokenFile) cannot be read")
        }
        guard !token.isEmpty else { throw S3Error.credentials("web identity: the token file \(tokenFile) is empty") }
        let sts = try STSClient(endpoint: stsEndpoint, region: region)
        context.logger.debug("assuming a role with a web identity token", metadata: ["credentials.role": "\(roleARN)", "sts.endpoint": "\(sts.endpoint)"])
        return try await sts.assumeRoleWithWebIdentity(roleARN: roleARN, sessionName: sessionName, token: token, source: "web identity",
                                                       context: context)
    }

    public var description: String { "S3WebIdentityCredentialProvider(role: \(roleARN), tokenFile: \(tokenFile), sts: \(stsEndpoint))" }
}

/// Credentials for an IAM role assumed with STS `AssumeRole`, signed with the credentials of
/// another source: a profile's `role_arn` with `source_profile` or `credential_source`.
public struct S3AssumeRoleCredentialProvider: S3CredentialProvider, CustomStringConvertible {
    /// The role to assume.
    public var roleARN: String
    /// Where the credentials that call STS come from.
    public var sourceProvider: any S3CredentialProvider
    /// The role session name (a profile's `role_session_name`); by default `swift-s3-` and the time.
    public var sessionName: String
    /// The external ID the role's trust policy asks for (`external_id`), if any.
    public var externalID: String?
    /// The session length in seconds (`duration_seconds`); STS's default (1 hour) when nil.
    public var durationSeconds: Int?
    /// The STS endpoint URL.
    public var stsEndpoint: String
    /// The region STS is in (and signs for).
    public var region: String

    /// A provider assuming `roleARN` with the credentials of `sourceProvider`.
    public init(roleARN: String, sourceProvider: any S3CredentialProvider, sessionName: String? = nil, externalID: String? = nil,
                durationSeconds: Int? = nil, stsEndpoint: String? = nil, region: String = "us-east-1") {
        self.roleARN = roleARN
        self.sourceProvider = sourceProvider
        self.sessionName = sessionName ?? "swift-s3-\(Int(Date().timeIntervalSince1970))"
        self.externalID = externalID
        self.durationSeconds = durationSeconds
        self.region = region
        self.stsEndpoint = stsEndpoint ?? "https://sts.\(region).amazonaws.com"
    }

    public func credentials(context: S3CredentialContext) async throws -> S3ResolvedCredentials {
        let source = try await sourceProvider.credentials(context: context)
        let sts = try STSClient(endpoint: stsEndpoint, region: region)
        context.logger.debug("assuming a role", metadata: ["credentials.role": "\(roleARN)", "credentials.source": "\(source.source)",
                                                           "sts.endpoint": "\(sts.endpoint)"])
        return try await sts.assumeRole(roleARN: roleARN, sessionName: sessionName, externalID: externalID, durationSeconds: durationSeconds,
                                        credentials: source.credentials, source: "assumed role (\(source.source))", context: context)
    }

    public var description: String { "S3AssumeRoleCredentialProvider(role: \(roleARN), source: \(sourceProvider), sts: \(stsEndpoint))" }
}
