//! Who may call what: bearer tokens, each with permissions, checked on every call.
//!
//! The server keeps only each token's SHA-256 (the auth file, JSON, mode 0600):
//!
//! ```json
//! {"tokens": [{"name": "desk", "sha256": "<64 hex>", "allow": ["read", "trade", "control"]},
//!             {"name": "operator", "sha256": "<64 hex>", "allow": ["read", "control"]}]}
//! ```
//!
//! A client sends `authorization: Bearer <token>`. Permissions:
//! - `read`: Health, GetOrder, ListPositions, StreamReports;
//! - `trade`: SubmitOrder, CancelOrder, ModifyOrder, PushQuotes;
//! - `control`: Halt, Resume, Flatten (the kill switch: kept apart so a strategy's token cannot use it).
//!
//! No token, an unknown token or a missing permission: `UNAUTHENTICATED` or `PERMISSION_DENIED`,
//! before the call reaches the engine. Tokens are compared by digest in constant time.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use tonic::{Request, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    Read,
    Trade,
    Control,
}

impl Perm {
    fn parse(s: &str) -> Result<Perm, String> {
        match s {
            "read" => Ok(Perm::Read),
            "trade" => Ok(Perm::Trade),
            "control" => Ok(Perm::Control),
            other => Err(format!("unknown permission {other:?} (read, trade, control)")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Perm::Read => "read",
            Perm::Trade => "trade",
            Perm::Control => "control",
        }
    }

    /// The permission a gRPC method needs (`/octet.exec.v1.Execution/Halt` → control).
    pub fn for_path(path: &str) -> Option<Perm> {
        let method = path.strip_prefix("/octet.exec.v1.Execution/")?;
        Some(match method {
            "Health" | "GetOrder" | "ListPositions" | "StreamReports" => Perm::Read,
            "SubmitOrder" | "CancelOrder" | "ModifyOrder" | "PushQuotes" => Perm::Trade,
            "Halt" | "Resume" | "Flatten" => Perm::Control,
            _ => return None,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    sha256: String,
    allow: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    tokens: Vec<TokenEntry>,
}

struct Token {
    name: String,
    digest: [u8; 32],
    allow: Vec<Perm>,
}

/// The tokens the service accepts.
#[derive(Clone)]
pub struct Auth {
    tokens: Arc<Vec<Token>>,
}

/// The gRPC path of the call, put in the request's extensions before the interceptor runs.
#[derive(Clone)]
pub struct CallPath(pub String);

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn eq_ct(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Read the auth file; refuse one that others can read or that names no token.
    pub fn load(path: &Path) -> Result<Auth, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot read auth file {}: {e}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!("auth file {} is readable by others (mode {:o}); chmod 600 it",
                               path.display(), meta.permissions().mode() & 0o777));
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read auth file {}: {e}", path.display()))?;
        Auth::from_json(&text).map_err(|e| format!("auth file {}: {e}", path.display()))
    }

    pub fn from_json(text: &str) -> Result<Auth, String> {
        let file: AuthFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
        if file.tokens.is_empty() {
            return Err("no token in \"tokens\"".into());
        }
        let mut tokens = Vec::new();
        for (i, t) in file.tokens.into_iter().enumerate() {
            let digest = hex32(&t.sha256).ok_or_else(|| format!("tokens[{i}].sha256: not 64 hex digits"))?;
            let allow = t.allow.iter().map(|p| Perm::parse(p)).collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("tokens[{i}].allow: {e}"))?;
            tokens.push(Token { name: t.name, digest, allow });
        }
        Ok(Auth { tokens: Arc::new(tokens) })
    }

    /// The name of the caller if it may call `path`.
    pub fn check(&self, path: &str, authorization: Option<&str>) -> Result<&str, Status> {
        let need = Perm::for_path(path).ok_or_else(|| Status::unimplemented(format!("unknown method {path}")))?;
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("no credentials: send authorization: Bearer <token>"))?;
        let digest: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
        let mut found: Option<&Token> = None;
        for t in self.tokens.iter() {
            if eq_ct(&t.digest, &digest) {
                found = Some(t);
            }
        }
        let t = found.ok_or_else(|| Status::unauthenticated("unknown token"))?;
        if !t.allow.contains(&need) {
            return Err(Status::permission_denied(format!("token {:?} lacks the {} permission", t.name, need.name())));
        }
        Ok(&t.name)
    }

    /// The interceptor: checks the call, or refuses it before it reaches the service.
    pub fn intercept(&self, req: Request<()>) -> Result<Request<()>, Status> {
        let path = req.extensions().get::<CallPath>().map(|p| p.0.as_str()).unwrap_or("");
        let header = req.metadata().get("authorization").and_then(|v| v.to_str().ok());
        match self.check(path, header) {
            Ok(_) => Ok(req),
            Err(status) => {
                tracing::warn!(method = path, code = ?status.code(), "call refused: {}", status.message());
                Err(status)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        let d = |t: &str| Sha256::digest(t.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>();
        Auth::from_json(&format!(
            r#"{{"tokens": [{{"name": "desk", "sha256": "{}", "allow": ["read", "trade"]}},
                           {{"name": "op", "sha256": "{}", "allow": ["read", "control"]}}]}}"#,
            d("desk-token"), d("op-token"))).unwrap()
    }

    #[test]
    fn each_method_needs_its_permission() {
        let a = auth();
        let halt = "/octet.exec.v1.Execution/Halt";
        let submit = "/octet.exec.v1.Execution/SubmitOrder";
        assert_eq!(a.check(submit, Some("Bearer desk-token")).unwrap(), "desk");
        assert_eq!(a.check(halt, Some("Bearer desk-token")).unwrap_err().code(), tonic::Code::PermissionDenied);
        assert_eq!(a.check(halt, Some("Bearer op-token")).unwrap(), "op");
        assert_eq!(a.check(submit, Some("Bearer op-token")).unwrap_err().code(), tonic::Code::PermissionDenied);
        assert_eq!(a.check(submit, None).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(a.check(submit, Some("Bearer nope")).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(a.check(submit, Some("desk-token")).unwrap_err().code(), tonic::Code::Unauthenticated);
        assert_eq!(a.check("/other.Svc/Halt", Some("Bearer op-token")).unwrap_err().code(), tonic::Code::Unimplemented);
    }

    #[test]
    fn a_bad_file_is_named() {
        assert!(Auth::from_json(r#"{"tokens": []}"#).err().unwrap().contains("no token"));
        let e = Auth::from_json(r#"{"tokens": [{"name": "x", "sha256": "ab", "allow": ["read"]}]}"#).err().unwrap();
        assert!(e.contains("64 hex"), "{e}");
        let h = "0".repeat(64);
        let e = Auth::from_json(&format!(r#"{{"tokens": [{{"name": "x", "sha256": "{h}", "allow": ["root"]}}]}}"#)).err().unwrap();
        assert!(e.contains("unknown permission"), "{e}");
    }
}
