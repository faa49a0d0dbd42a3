import Foundation

/// The shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`) as the
/// AWS CLI reads them: a profile's settings are those of its `[name]` section of the
/// credentials file over those of its `[profile name]` (or `[default]`) section of the config
/// file.
struct AWSConfigFiles: Sendable {
    var credentials: INIFile
    var config: INIFile
    /// Paths, for error messages.
    var credentialsPath: String
    var configPath: String

    /// The files `environment` names (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), else
    /// those under `~/.aws/`. Missing files read as empty.
    init(environment: AWSEnvironment) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        credentialsPath = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        configPath = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        credentials = INIFile.load(credentialsPath) ?? INIFile()
        config = INIFile.load(configPath) ?? INIFile()
    }

    /// The settings of profile `name` (empty when it exists in neither file).
    func profile(_ name: String) -> [String: String] {
        let fromConfig = config.sections[name == "default" ? "default" : "profile " + name] ?? [:]
        let fromCredentials = credentials.sections[name] ?? [:]
        return fromConfig.merging(fromCredentials) { _, credentialsValue in credentialsValue }
    }

    /// Whether profile `name` is in either file.
    func hasProfile(_ name: String) -> Bool {
        credentials.sections[name] != nil || config.sections[name == "default" ? "default" : "profile " + name] != nil
    }
}

/// Environment variables, with empty (or blank) values read as unset.
struct AWSEnvironment: Sendable {
    let values: [String: String]

    init(_ values: [String: String]) { self.values = values }

    subscript(_ name: String) -> String? {
        guard let v = values[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
        return v
    }

    /// Whether `name` is set to `true` (any case).
    func isTrue(_ name: String) -> Bool { self[name]?.lowercased() == "true" }
}

/// The INI dialect of `~/.aws/credentials` and `~/.aws/config`: `[section]`, `key = value`,
/// `#` and `;` comments. Nested (indented) settings are skipped.
struct INIFile: Sendable {
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
