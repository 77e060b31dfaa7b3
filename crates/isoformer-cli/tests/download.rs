//! `isoformer download` → `convert` → `predict` end to end against a mock Hugging Face Hub on
//! 127.0.0.1 that serves the torch-written tiny checkpoint in the official repository layout.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::Digest;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const REPO: &str = "InstaDeepAI/isoformer";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const FILES: [&str; 5] = ["config.json", "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt", "pytorch_model.bin"];

struct Hub {
    endpoint: String,
    /// Range headers received for the weights.
    ranges: Arc<Mutex<Vec<String>>>,
    /// Cut the weights' body short this many times (dropped connections).
    cuts: Arc<AtomicUsize>,
}

fn sha256_hex(b: &[u8]) -> String {
    sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A mock Hub answering the paths hf-hub uses: the repository listing
/// (`/api/models/{repo}/revision/{rev}`) and file downloads (`/{repo}/resolve/{rev}/{file}`,
/// with `Range`, `x-repo-commit`, `etag`/`x-linked-etag`, `Content-Range`). It stops when the
/// test process ends; every connection is bounded (one request, then closed).
fn start_hub(lfs_sha_override: Option<String>) -> Hub {
    let dir = root().join("tests/fixtures/hub/tiny");
    let files: HashMap<String, Vec<u8>> = FILES.iter().map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap())).collect();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let cuts = Arc::new(AtomicUsize::new(0));
    let (r2, c2) = (ranges.clone(), cuts.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(stream) = stream else { continue };
            serve(stream, &files, &r2, &c2, lfs_sha_override.as_deref());
        }
    });
    Hub { endpoint, ranges, cuts }
}

fn serve(mut s: TcpStream, files: &HashMap<String, Vec<u8>>, ranges: &Mutex<Vec<String>>, cut: &AtomicUsize, sha_override: Option<&str>) {
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).ok();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some(v) = h.strip_prefix("Range:").or_else(|| h.strip_prefix("range:")) {
            range = Some(v.trim().to_string());
        }
    }
    let listing = format!("/api/models/{REPO}/revision/main");
    if path.starts_with(&listing) {
        let siblings: Vec<serde_json::Value> = FILES
            .iter()
            .map(|f| {
                let b = &files[*f];
                if *f == "pytorch_model.bin" {
                    let sha = sha_override.map(str::to_string).unwrap_or_else(|| sha256_hex(b));
                    serde_json::json!({"rfilename": f, "size": b.len(), "lfs": {"sha256": sha, "size": b.len()}})
                } else {
                    serde_json::json!({"rfilename": f, "size": b.len()})
                }
            })
            .chain([serde_json::json!({"rfilename": "README.md", "size": 10})])
            .collect();
        let body = serde_json::json!({"id": REPO, "sha": COMMIT, "siblings": siblings}).to_string();
        let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        return;
    }
    let prefix = format!("/{REPO}/resolve/main/");
    let Some(name) = path.strip_prefix(&prefix) else {
        let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let Some(body) = files.get(name) else {
        let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let start: usize = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split('-').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let end = match range.as_deref() {
        Some("bytes=0-0") => 1,
        _ => body.len(),
    };
    if name == "pytorch_model.bin" {
        ranges.lock().unwrap().push(range.clone().unwrap_or_default());
    }
    let etag = if name == "pytorch_model.bin" { sha256_hex(body) } else { format!("{:x}", body.len() * 7919) };
    let _ = write!(
        s,
        "HTTP/1.1 206 Partial Content\r\nx-repo-commit: {COMMIT}\r\netag: \"{etag}\"\r\nx-linked-etag: \"{etag}\"\r\n\
         Content-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        end.saturating_sub(1),
        body.len(),
        end - start
    );
    let slice = &body[start..end];
    if name == "pytorch_model.bin" && end - start > 1 && cut.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| c.checked_sub(1)).is_ok() {
        let _ = s.write_all(&slice[..slice.len() / 3]);
        let _ = s.flush();
        let _ = s.shutdown(std::net::Shutdown::Both);
        return;
    }
    let _ = s.write_all(slice);
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
}

fn isoformer(args: &[&str], hub: &Hub, home: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_isoformer"))
        .args(args)
        .current_dir(root())
        .env("HF_ENDPOINT", &hub.endpoint)
        .env("HF_HOME", home)
        .env_remove("HF_TOKEN")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isoformer-dl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn reference() -> Vec<f32> {
    let bytes = std::fs::read(root().join("tests/fixtures/tiny_forward.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensor("head.out").unwrap().data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

#[test]
fn download_resumes_converts_and_predicts() {
    let hub = start_hub(None);
    let d = tmp("ok");
    let (home, model) = (d.join("hf"), d.join("model"));
    // First run: the connection drops a third of the way through the weights, on the first try
    // and on both of hf-hub's retries (each of which resumes where the last one stopped).
    hub.cuts.store(3, Ordering::SeqCst);
    let (ok, _, err) = isoformer(&["download", REPO, "--dir", model.to_str().unwrap()], &hub, &home);
    assert!(!ok, "the cut download should fail");
    assert!(err.contains("pytorch_model.bin") && err.contains("resume"), "{err}");
    assert!(!model.join("model.safetensors").exists());
    // The second run resumes from the partial file the first left (a Range not starting at 0).
    let (ok, _, err) = isoformer(&["download", REPO, "--dir", model.to_str().unwrap()], &hub, &home);
    assert!(ok, "{err}");
    let ranges = hub.ranges.lock().unwrap().clone();
    assert!(ranges.iter().any(|r| r.starts_with("bytes=") && r != "bytes=0-0" && r != "bytes=0-"), "no resumed range in {ranges:?}");
    for f in ["config.json", "model.safetensors", "manifest.json", "rna_vocab_list.txt"] {
        assert!(model.join(f).exists(), "{f} missing");
    }
    assert!(home.join("hub/models--InstaDeepAI--isoformer").exists(), "standard cache layout");
    let (ok, out, err) = isoformer(&["predict", "-m", model.to_str().unwrap(), "-i", "models/tiny/example.tsv"], &hub, &home);
    assert!(ok, "{err}");
    let got: Vec<f32> = out.lines().skip(1).flat_map(|l| l.split('\t').skip(1).map(|v| v.parse::<f32>().unwrap()).collect::<Vec<_>>()).collect();
    let want = reference();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-4 + 1e-4 * w.abs() + 5e-7, "got {g}, want {w}");
    }
}

#[test]
fn a_checksum_mismatch_is_refused() {
    let hub = start_hub(Some("00".repeat(32)));
    let d = tmp("sha");
    let model = d.join("model");
    let (ok, _, err) = isoformer(&["download", REPO, "--dir", model.to_str().unwrap()], &hub, &d.join("hf"));
    assert!(!ok);
    assert!(err.contains("sha256") && err.contains("but the Hub lists 0000"), "{err}");
    assert!(!model.join("model.safetensors").exists());
}

#[test]
fn convert_refuses_a_hostile_checkpoint_from_the_command_line() {
    let d = tmp("evil");
    let out = Command::new(env!("CARGO_BIN_EXE_isoformer"))
        .args(["convert", "tests/fixtures/hub/evil_os_system.bin", "-o"])
        .arg(d.join("model.safetensors"))
        .current_dir(root())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("system`") && err.contains("refusing"), "{err}");
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0);
}
