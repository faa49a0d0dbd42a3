/// Which paths a sync (or a wildcard copy) takes: `--exclude` / `--include` rules with the
/// AWS CLI's meaning. Every path starts included; the rules are applied in order and the last
/// one whose pattern matches decides.
///
/// Patterns are matched against the whole relative path (`photos/2024/a.jpg`): `*` matches any
/// run of characters, `/` included; `?` one character; `[abc]`, `[a-z]` and `[!abc]` one of (or
/// none of) a set; `\` takes the next character literally.
///
/// ```swift
/// var filter = S3SyncFilter()
/// filter.exclude("*")
/// filter.include("*.jpg")        // only JPEGs
/// filter.exclude("tmp/*")        // ... but not those under tmp/
/// ```
public struct S3SyncFilter: Sendable, Hashable {
    /// One rule.
    public enum Rule: Sendable, Hashable {
        /// Leave out paths matching the pattern.
        case exclude(String)
        /// Take paths matching the pattern again.
        case include(String)
    }

    /// The rules, in the order they apply.
    public var rules: [Rule]

    /// A filter with these rules (none: everything is included).
    public init(rules: [Rule] = []) { self.rules = rules }

    /// Adds an exclude rule.
    public mutating func exclude(_ pattern: String) { rules.append(.exclude(pattern)) }

    /// Adds an include rule.
    public mutating func include(_ pattern: String) { rules.append(.include(pattern)) }

    /// Whether `path` is taken.
    public func includes(_ path: String) -> Bool {
        var included = true
        for rule in rules {
            switch rule {
            case .exclude(let p): if included && Self.matches(path, pattern: p) { included = false }
            case .include(let p): if !included && Self.matches(path, pattern: p) { included = true }
            }
        }
        return included
    }

    /// The part of a glob before its first wildcard (or escape): what a listing can start from.
    public static func literalPrefix(of pattern: String) -> String {
        String(pattern.prefix { !"*?[\\".contains($0) })
    }

    /// Whether `text` matches the glob `pattern` (see the type's description).
    public static func matches(_ text: String, pattern: String) -> Bool {
        let t = Array(text.unicodeScalars), p = Array(pattern.unicodeScalars)
        var ti = 0, pi = 0
        var starP = -1, starT = 0
        while ti < t.count {
            if pi < p.count {
                switch p[pi] {
                case "*":
                    starP = pi
                    starT = ti
                    pi += 1
                    continue
                case "?":
                    pi += 1
                    ti += 1
                    continue
                case "[":
                    if let (matched, end) = matchSet(p, from: pi, t[ti]) {
                        if matched {
                            pi = end
                            ti += 1
                            continue
                        }
                    } else if t[ti] == "[" {   // no closing bracket: a literal [
                        pi += 1
                        ti += 1
                        continue
                    }
                case "\\" where pi + 1 < p.count:
                    if p[pi + 1] == t[ti] {
                        pi += 2
                        ti += 1
                        continue
                    }
                default:
                    if p[pi] == t[ti] {
                        pi += 1
                        ti += 1
                        continue
                    }
                }
            }
            // A mismatch: let the last star take one more character, or fail.
            guard starP >= 0 else { return false }
            starT += 1
            ti = starT
            pi = starP + 1
        }
        while pi < p.count && p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Matches `c` against the set starting at `p[start]` (`[`): whether it matched and the
    /// index after the closing `]`; `nil` when the set is not closed.
    private static func matchSet(_ p: [Unicode.Scalar], from start: Int, _ c: Unicode.Scalar) -> (Bool, Int)? {
        var i = start + 1
        var negated = false
        if i < p.count && (p[i] == "!" || p[i] == "^") {
            negated = true
            i += 1
        }
        var matched = false
        var first = true
        while i < p.count {
            if p[i] == "]" && !first { return (matched != negated, i + 1) }
            first = false
            var low = p[i]
            if low == "\\" && i + 1 < p.count {
                i += 1
                low = p[i]
            }
            if i + 2 < p.count && p[i + 1] == "-" && p[i + 2] != "]" {
                let high = p[i + 2]
                if low.value <= c.value && c.value <= high.value { matched = true }
                i += 3
            } else {
                if low == c { matched = true }
                i += 1
            }
        }
        return nil
    }
}
