import Foundation

extension S3Configuration {
    /// A configuration the way the AWS CLI finds one.
    ///
    /// - Credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`;
    ///   otherwise the profile (`profile`, else `AWS_PROFILE`, else `default`) of the shared
    ///   credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`), then of the
    ///   config file (`AWS_CONFIG_FILE`, else `~/.aws/config`).
    /// - Region: `region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else the profile's
    ///   `region`, else `us-east-1` (`auto` for Cloudflare R2).
    /// - Endpoint: `endpoint`, else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, else the
    ///   profile's `endpoint_url`, else AWS's regional endpoint.
    /// - CA bundle (PEM certificates to trust instead of the system's): `AWS_CA_BUNDLE`, else
    ///   the profile's `ca_bundle`.
    ///
    /// Throws ``S3Error`` (`.invalidArgument`) when no credentials are found or a value is
    /// malformed; the message never contains a secret.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment,
                                       endpoint: String? = nil, region: String? = nil, profile: String? = nil,
                                       addressingStyle: AddressingStyle = .automatic) throws -> S3Configuration {
        func env(_ name: String) -> String? {
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        let home = env("HOME") ?? NSHomeDirectory()
        let profileName = profile ?? env("AWS_PROFILE") ?? "default"
        let credentialsFile = env("AWS_SHARED_CREDENTIALS_FILE") ?? home + "/.aws/credentials"
        let configFile = env("AWS_CONFIG_FILE") ?? home + "/.aws/config"
        let fromCredentials = INIFile.load(credentialsFile)?.sections[profileName] ?? [:]
        let configSection = profileName == "default" ? "default" : "profile " + profileName
        let fromConfig = INIFile.load(configFile)?.sections[configSection] ?? [:]
        func profileValue(_ key: String) -> String? { fromCredentials[key] ?? fromConfig[key] }

        let credentials: S3Credentials
        if let id = env("AWS_ACCESS_KEY_ID"), let secret = env("AWS_SECRET_ACCESS_KEY") {
            credentials = S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env("AWS_SESSION_TOKEN"))
        } else if let id = profileValue("aws_access_key_id"), let secret = profileValue("aws_secret_access_key") {
            credentials = S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: profileValue("aws_session_token"))
        } else {
            throw S3Error.invalidArgument(
                "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile \"\(profileName)\" to \(credentialsFile)")
        }
        let resolvedRegion: String? = region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ?? fromConfig["region"]
        let resolvedEndpoint = endpoint ?? env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL") ?? fromConfig["endpoint_url"]
            ?? "https://s3.\(resolvedRegion ?? "us-east-1").amazonaws.com"
        var configuration = try S3Configuration(endpoint: resolvedEndpoint, region: resolvedRegion, credentials: credentials,
                                                addressingStyle: addressingStyle)
        if let bundle = env("AWS_CA_BUNDLE") ?? fromConfig["ca_bundle"] {
            guard FileManager.default.isReadableFile(atPath: bundle) else {
                throw S3Error.invalidArgument("the CA bundle \(bundle) (AWS_CA_BUNDLE or ca_bundle) cannot be read")
            }
            configuration.http.tls.caBundlePath = bundle
        }
        return configuration
    }
}

/// The INI dialect of `~/.aws/credentials` and `~/.aws/config`: `[section]`, `key = value`,
/// `#` and `;` comments. Nested (indented) settings are skipped.
struct INIFile {
    var sections: [String: [String: String]] = [:]

    static func load(_ path: String) -> INIFile? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return parse(text)
    }

    static func parse(_ text: String) -> INIFile {
        var file = INIFile()
        var current: String?
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            if raw.first == " " || raw.first == "\t" { continue }
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                current = name
                file.sections[name, default: [:]] = file.sections[name] ?? [:]
                continue
            }
            guard let section = current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            file.sections[section]?[key] = value
        }
        return file
    }
}
