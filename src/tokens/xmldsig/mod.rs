//! XML signatures (XML-DSig), verified: the narrow part of the standard a SAML identity
//! provider's answer uses, and nothing more.
//!
//! A signature is accepted only when it is enveloped in the element it signs (its one
//! `Reference` names that element's `ID`), its transforms are the enveloped-signature one and
//! exclusive canonicalization (`c14n`), its digest is SHA-256/384/512 and its signature RSA
//! (PKCS#1 v1.5) or ECDSA with one of those; SHA-1 and every other algorithm is refused. The
//! key is never taken from the message (`KeyInfo` is ignored): only the pinned certificates
//! count. The caller passes the element whose content it will read, in the tree it will read
//! it from, so the verified node and the read node are one (the signature-wrapping attacks
//! rely on the two differing).

mod c14n;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::signature;
use roxmltree::Node;
use sha2::Digest;

/// The XML-DSig namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signature was not accepted (said in logs and audit events, never to the browser).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsigError {
    #[error("the element is not signed")]
    Unsigned,
    #[error("the signature is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature uses an algorithm not accepted: {0}")]
    Algorithm(String),
    #[error("the signature does not cover the element it is in")]
    WrongReference,
    #[error("the signed content was changed (digest mismatch)")]
    Digest,
    #[error("the signature was not made by a pinned certificate's key")]
    Signature,
}

/// What a pinned certificate's key can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
}

/// A certificate an identity provider's signatures must be made with (from its metadata).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinnedCertificate {
    kind: KeyKind,
    /// The subject public key: RSAPublicKey DER, or the uncompressed EC point.
    key: Vec<u8>,
    /// The certificate, DER.
    der: Vec<u8>,
}

impl PinnedCertificate {
    /// Reads a DER certificate; only RSA and EC P-256/P-384 keys are taken.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let spki = cert.public_key();
        let algorithm = spki.algorithm.algorithm.to_id_string();
        let kind = match algorithm.as_str() {
            "1.2.840.113549.1.1.1" => KeyKind::Rsa,
            "1.2.840.10045.2.1" => {
                let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
                match curve.as_deref() {
                    Some("1.2.840.10045.3.1.7") => KeyKind::EcP256,
                    Some("1.3.132.0.34") => KeyKind::EcP384,
                    _ => return Err("an EC key on a curve other than P-256 and P-384".into()),
                }
            }
            other => return Err(format!("a key of algorithm {other}, not RSA or EC")),
        };
        if kind == KeyKind::Rsa && spki.subject_public_key.data.len() < 256 {
            return Err("an RSA key shorter than 2,048 bits".into());
        }
        Ok(Self { kind, key: spki.subject_public_key.data.to_vec(), der: der.to_vec() })
    }

    /// Reads the base64 of a DER certificate (as metadata's `X509Certificate` holds it).
    pub fn from_base64(text: &str) -> Result<Self, String> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD.decode(compact).map_err(|_| "a certificate that is not base64".to_owned())?;
        Self::from_der(&der)
    }

    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The SHA-256 fingerprint, hex with colons (as `openssl x509 -fingerprint` shows it).
    pub fn fingerprint(&self) -> String {
        let digest = sha2::Sha256::digest(&self.der);
        digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
    }

    fn verify(&self, method: SignatureMethod, message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn signature::VerificationAlgorithm = match (self.kind, method) {
            (KeyKind::Rsa, SignatureMethod::RsaSha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
            (KeyKind::Rsa, SignatureMethod::RsaSha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
            (KeyKind::Rsa, SignatureMethod::RsaSha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
            (KeyKind::EcP256, SignatureMethod::EcdsaSha256) => &signature::ECDSA_P256_SHA256_FIXED,
            (KeyKind::EcP384, SignatureMethod::EcdsaSha384) => &signature::ECDSA_P384_SHA384_FIXED,
            _ => return false,
        };
        signature::UnparsedPublicKey::new(algorithm, &self.key).verify(message, signature).is_ok()
    }
}

#[derive(Clone, Copy, Debug)]
enum SignatureMethod {
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

impl SignatureMethod {
    fn parse(uri: &str) -> Result<Self, DsigError> {
        Ok(match uri {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Self::RsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Self::RsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Self::RsaSha512,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Self::EcdsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Self::EcdsaSha384,
            other => return Err(DsigError::Algorithm(other.to_owned())),
        })
    }
}

fn digest(uri: &str, data: &[u8]) -> Result<Vec<u8>, DsigError> {
    Ok(match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => sha2::Sha256::digest(data).to_vec(),
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => sha2::Sha384::digest(data).to_vec(),
        "http://www.w3.org/2001/04/xmlenc#sha512" => sha2::Sha512::digest(data).to_vec(),
        other => return Err(DsigError::Algorithm(other.to_owned())),
    })
}

fn is_dsig(node: &Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.has_tag_name((DSIG, name))
}

/// The element children of `node`, which must be exactly the XML-DSig elements `names` in that
/// order (an optional last one ending in `?`).
fn children<'a, 'input>(node: Node<'a, 'input>, names: &[&str]) -> Result<Vec<Node<'a, 'input>>, DsigError> {
    let found: Vec<_> = node.children().filter(Node::is_element).collect();
    let required = names.iter().filter(|n| !n.ends_with('?')).count();
    if found.len() < required || found.len() > names.len() {
        return Err(DsigError::Malformed("unexpected elements in the signature"));
    }
    for (child, name) in found.iter().zip(names) {
        if !is_dsig(child, name.trim_end_matches('?')) {
            return Err(DsigError::Malformed("unexpected elements in the signature"));
        }
    }
    Ok(found)
}

fn algorithm<'a>(node: &Node<'a, '_>) -> Result<&'a str, DsigError> {
    node.attribute("Algorithm").ok_or(DsigError::Malformed("an algorithm is not named"))
}

/// The exclusive canonicalization of a `CanonicalizationMethod` or `Transform`, with its
/// `InclusiveNamespaces PrefixList`.
fn exclusive(method: Node<'_, '_>) -> Result<Vec<String>, DsigError> {
    let uri = algorithm(&method)?;
    if uri != EXC_C14N {
        return Err(DsigError::Algorithm(uri.to_owned()));
    }
    let list = method
        .children()
        .find(|c| {
            c.is_element() && c.tag_name().name() == "InclusiveNamespaces" && c.tag_name().namespace() == Some(EXC_C14N)
        })
        .and_then(|c| c.attribute("PrefixList"));
    Ok(list.map(|l| l.split_whitespace().map(str::to_owned).collect()).unwrap_or_default())
}

fn base64_of(node: Node<'_, '_>) -> Result<Vec<u8>, DsigError> {
    let text: String = node.descendants().filter(Node::is_text).filter_map(|t| t.text()).collect();
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).map_err(|_| DsigError::Malformed("a value is not base64"))
}

/// Whether `element` carries a signature (a `ds:Signature` child).
pub fn is_signed(element: Node<'_, '_>) -> bool {
    element.children().any(|c| is_dsig(&c, "Signature"))
}

/// Verifies the signature enveloped in `element` (its one `ds:Signature` child): it covers
/// `element` whole, by its `ID` attribute, and was made by the key of one of `pinned`.
pub fn verify_enveloped(element: Node<'_, '_>, pinned: &[PinnedCertificate]) -> Result<(), DsigError> {
    let mut signatures = element.children().filter(|c| is_dsig(c, "Signature"));
    let signature = signatures.next().ok_or(DsigError::Unsigned)?;
    if signatures.next().is_some() {
        return Err(DsigError::Malformed("more than one signature"));
    }
    let parts = children(signature, &["SignedInfo", "SignatureValue", "KeyInfo?", "Object?"])?;
    let (signed_info, signature_value) = (parts[0], parts[1]);
    let info = children(signed_info, &["CanonicalizationMethod", "SignatureMethod", "Reference"])?;
    let info_inclusive = exclusive(info[0])?;
    let method = SignatureMethod::parse(algorithm(&info[1])?)?;
    let reference = info[2];

    let id = element.attribute("ID").filter(|id| !id.is_empty()).ok_or(DsigError::WrongReference)?;
    let uri = reference.attribute("URI").ok_or(DsigError::WrongReference)?;
    if uri.strip_prefix('#') != Some(id) {
        return Err(DsigError::WrongReference);
    }
    let reference_parts = children(reference, &["Transforms", "DigestMethod", "DigestValue"])?;
    let mut enveloped = false;
    let mut inclusive = Vec::new();
    for transform in reference_parts[0].children().filter(Node::is_element) {
        if !is_dsig(&transform, "Transform") {
            return Err(DsigError::Malformed("unexpected elements in the signature"));
        }
        match algorithm(&transform)? {
            ENVELOPED if !enveloped => enveloped = true,
            EXC_C14N => inclusive = exclusive(transform)?,
            other => return Err(DsigError::Algorithm(other.to_owned())),
        }
    }
    if !enveloped {
        return Err(DsigError::Malformed("the signature is not enveloped"));
    }
    let canonical = c14n::canonicalize(element, Some(signature.id()), &inclusive);
    let computed = digest(algorithm(&reference_parts[1])?, canonical.as_bytes())?;
    let stated = base64_of(reference_parts[2])?;
    if !crate::tokens::mac::same(&computed, &stated) {
        return Err(DsigError::Digest);
    }
    let signed = c14n::canonicalize(signed_info, None, &info_inclusive);
    let value = base64_of(signature_value)?;
    if pinned.iter().any(|cert| cert.verify(method, signed.as_bytes(), &value)) {
        Ok(())
    } else {
        Err(DsigError::Signature)
    }
}
