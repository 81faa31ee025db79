//! The `ROOT` system store, read with crypt32 (what Windows' own TLS trusts).

use std::ffi::c_void;

use super::Store;

/// `X509_ASN_ENCODING`: the certificates TLS uses.
const X509_ASN_ENCODING: u32 = 1;

/// The start of wincrypt.h's `CERT_CONTEXT`: what is read of each certificate.
#[repr(C)]
struct CertContext {
    encoding: u32,
    encoded: *const u8,
    encoded_len: u32,
    info: *mut c_void,
    store: *mut c_void,
}

#[link(name = "crypt32")]
unsafe extern "system" {
    fn CertOpenSystemStoreW(prov: usize, name: *const u16) -> *mut c_void;
    fn CertEnumCertificatesInStore(
        store: *mut c_void,
        prev: *const CertContext,
    ) -> *const CertContext;
    fn CertCloseStore(store: *mut c_void, flags: u32) -> i32;
}

/// Every certificate of the `ROOT` store (the machine's and the user's), or `None`
/// when it cannot be opened or is empty.
pub(crate) fn system() -> Option<Store> {
    let name: Vec<u16> = "ROOT".encode_utf16().chain([0]).collect();
    // SAFETY: `name` is a NUL-terminated UTF-16 string that outlives the call.
    let store = unsafe { CertOpenSystemStoreW(0, name.as_ptr()) };
    if store.is_null() {
        return None;
    }
    let mut certs = Vec::new();
    let mut cert: *const CertContext = std::ptr::null();
    loop {
        // SAFETY: `store` is open; `cert` is null or the context the previous call
        // returned, which this call frees.
        cert = unsafe { CertEnumCertificatesInStore(store, cert) };
        if cert.is_null() {
            break;
        }
        // SAFETY: a non-null context from crypt32 points to a valid CERT_CONTEXT
        // whose encoded bytes live as long as the context.
        let context = unsafe { &*cert };
        if context.encoding & X509_ASN_ENCODING != 0 && !context.encoded.is_null() {
            // SAFETY: as above; `encoded_len` bytes at `encoded`.
            let der = unsafe {
                std::slice::from_raw_parts(context.encoded, context.encoded_len as usize)
            };
            certs.push(der.to_vec());
        }
    }
    // SAFETY: the store is open and the enumeration freed its last context.
    unsafe { CertCloseStore(store, 0) };
    (!certs.is_empty()).then_some(Store::Der(certs))
}
