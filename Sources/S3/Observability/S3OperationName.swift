extension S3Request {
    /// The S3 API name of the operation this request performs (`GetObject`, `UploadPart`,
    /// `ListObjectsV2`, ...), derived from its method, bucket, key, query and headers: the
    /// `operation` of logs, metrics and spans.
    var operationName: String {
        func has(_ name: String) -> Bool { query.contains { $0.0 == name } }
        guard bucket != nil else { return method == "GET" ? "ListBuckets" : method }
        if key != nil {
            switch method {
            case "GET":
                if has("uploadId") { return "ListParts" }
                if has("tagging") { return "GetObjectTagging" }
                if has("attributes") { return "GetObjectAttributes" }
                if has("retention") { return "GetObjectRetention" }
                if has("legal-hold") { return "GetObjectLegalHold" }
                return "GetObject"
            case "HEAD": return "HeadObject"
            case "PUT":
                if has("partNumber") { return headers.contains("x-amz-copy-source") ? "UploadPartCopy" : "UploadPart" }
                if has("tagging") { return "PutObjectTagging" }
                if has("retention") { return "PutObjectRetention" }
                if has("legal-hold") { return "PutObjectLegalHold" }
                return headers.contains("x-amz-copy-source") ? "CopyObject" : "PutObject"
            case "POST":
                if has("uploads") { return "CreateMultipartUpload" }
                if has("uploadId") { return "CompleteMultipartUpload" }
                return "PostObject"
            case "DELETE":
                if has("uploadId") { return "AbortMultipartUpload" }
                if has("tagging") { return "DeleteObjectTagging" }
                return "DeleteObject"
            default: return method
            }
        }
        // Bucket-level: the sub-resource names the operation.
        let subresources: [(String, String)] = [
            ("lifecycle", "BucketLifecycleConfiguration"), ("policy", "BucketPolicy"), ("publicAccessBlock", "PublicAccessBlock"),
            ("versioning", "BucketVersioning"), ("tagging", "BucketTagging"), ("location", "BucketLocation"),
            ("cors", "BucketCors"), ("acl", "BucketAcl"), ("encryption", "BucketEncryption"),
            ("ownershipControls", "BucketOwnershipControls"), ("object-lock", "ObjectLockConfiguration"),
        ]
        for (name, suffix) in subresources where has(name) {
            switch method {
            case "GET": return "Get" + suffix
            case "PUT": return "Put" + suffix
            case "DELETE": return "Delete" + suffix
            default: return method + suffix
            }
        }
        switch method {
        case "GET":
            if has("uploads") { return "ListMultipartUploads" }
            if has("versions") { return "ListObjectVersions" }
            return has("list-type") ? "ListObjectsV2" : "ListObjects"
        case "HEAD": return "HeadBucket"
        case "PUT": return "CreateBucket"
        case "DELETE": return "DeleteBucket"
        case "POST": return has("delete") ? "DeleteObjects" : "PostBucket"
        default: return method
        }
    }
}
