//! The bad-input catalogue (issue 18): for every command that reads user files, at least 30 bad
//! or unusual inputs, each run in a fresh directory and checked for the output contract:
//! the exit status, exactly one `error:` line that names the file (and line, where there is
//! one), what is wrong said there or in its `caused by:` lines, no panic or backtrace, and nothing left on disk (no output, no
//! temporary file, no directory made for the output). Then the special output paths (a FIFO
//! with a reader, a device node made with mknod, a `/proc/self/fd` link, two outputs on one file)
//! for every command that writes, and the signals that remove temporary files.
//!
//! Tables, not code: a case is the command line, the files it finds in its directory, and the
//! phrases its error line must hold. `@M` is the tiny model directory, `@EX` its example TSV,
//! `@G`/`@A` the bundled genome and annotation, `@HUB` the checkpoint fixtures.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{root, scratch};

/// One bad input.
struct Case {
    name: String,
    args: Vec<String>,
    files: Vec<(String, Vec<u8>)>,
    status: i32,
    /// Phrases the error must hold: the first on the `error:` line (the file, and line where
    /// there is one), the others there or in the `caused by:` lines below it.
    says: Vec<String>,
}

fn case(name: &str, args: &str, says: &[&str]) -> Case {
    Case {
        name: name.into(),
        args: args.split_whitespace().map(String::from).collect(),
        files: Vec::new(),
        status: 1,
        says: says.iter().map(|s| s.to_string()).collect(),
    }
}

impl Case {
    fn file(mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.into(), bytes.into()));
        self
    }
    fn status(mut self, status: i32) -> Self {
        self.status = status;
        self
    }
}

fn expand(arg: &str) -> String {
    let r = root();
    let r = r.canonicalize().unwrap();
    arg.replace("@M", &r.join("models/tiny").display().to_string())
        .replace("@EX", &r.join("models/tiny/example.tsv").display().to_string())
        .replace("@G", &r.join("examples/genome.fa.gz").display().to_string())
        .replace("@A", &r.join("examples/genes.gtf").display().to_string())
        .replace("@HUB", &r.join("tests/fixtures/hub").display().to_string())
}

/// Every file and directory under `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            out.push(p.strip_prefix(dir).unwrap().display().to_string());
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Run one case in its own directory; the problems found, if any.
fn check(dir: &Path, c: &Case) -> Option<String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in &c.files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    let before = listing(dir);
    let args: Vec<String> = c.args.iter().map(|a| expand(a)).collect();
    // Standard input: an empty pipe (not /dev/null, which programs run as root on a shared
    // machine have been seen replacing with a regular file).
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoformer"))
        .args(&args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", dir.join(".cache-unused"))
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    if out.status.code() != Some(c.status) {
        problems.push(format!("exit status {:?}, expected {}", out.status.code(), c.status));
    }
    if stderr.contains("panicked") || stderr.contains("backtrace") || stderr.contains("RUST_BACKTRACE") {
        problems.push("a panic".into());
    }
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    if errors.len() != 1 {
        problems.push(format!("{} `error:` lines, expected 1", errors.len()));
    }
    let line = errors.first().copied().unwrap_or("");
    for (k, s) in c.says.iter().enumerate() {
        if k == 0 && !line.contains(s.as_str()) {
            problems.push(format!("the error line lacks {s:?}"));
        }
        if k > 0 && !stderr.contains(s.as_str()) {
            problems.push(format!("the error lacks {s:?}"));
        }
    }
    if line.chars().count() > 400 {
        problems.push(format!("the error line is {} characters long", line.chars().count()));
    }
    let after = listing(dir);
    if after != before {
        let left: Vec<&String> = after.iter().filter(|p| !before.contains(p)).collect();
        problems.push(format!("left on disk: {left:?}"));
    }
    let _ = std::fs::remove_dir_all(dir);
    (!problems.is_empty()).then(|| format!("{}: {} (args {:?})\n    stderr: {}", c.name, problems.join("; "), c.args, stderr.trim_end().replace('\n', "\n            ")))
}

/// Run a table, three cases at a time; every failure is listed, then the test fails.
fn run_table(command: &str, cases: Vec<Case>, at_least: usize) {
    assert!(cases.len() >= at_least, "{command}: {} cases, the catalogue promises {at_least}", cases.len());
    let base = scratch(command);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(c) = cases.get(k) else { break };
                    if let Some(f) = check(&base.join(format!("case{k}")), c) {
                        failures.lock().unwrap().push(f);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    let _ = std::fs::remove_dir_all(&base);
    println!("bad inputs: {command}: {} cases, {} as expected", cases.len(), cases.len() - failures.len());
    assert!(failures.is_empty(), "{} of {} {command} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

// ---------------------------------------------------------------- inputs the tables share

fn example() -> String {
    std::fs::read_to_string(root().join("models/tiny/example.tsv")).unwrap()
}

/// The example with row `row` (1-based data row) having `column` replaced.
fn edited(column: &str, row: usize, value: &str) -> String {
    let text = example();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let k = lines[0].split('\t').position(|c| c == column).unwrap();
    let mut fields: Vec<String> = lines[row].split('\t').map(String::from).collect();
    fields[k] = value.into();
    lines[row] = fields.join("\t");
    lines.join("\n") + "\n"
}

fn dna_of_row(row: usize) -> String {
    example().lines().nth(row).unwrap().split('\t').nth(1).unwrap().to_string()
}

const TISSUES: [&str; 30] = [
    "Adipose Tissue", "Adrenal Gland", "Bladder", "Blood", "Blood Vessel", "Brain", "Breast", "Cervix Uteri", "Colon", "Esophagus",
    "Fallopian Tube", "Heart", "Kidney", "Liver", "Lung", "Muscle", "Nerve", "Ovary", "Pancreas", "Pituitary", "Prostate",
    "Salivary Gland", "Skin", "Small Intestine", "Spleen", "Stomach", "Testis", "Thyroid", "Uterus", "Vagina",
];

/// The example with gene_id and the 30 tissue columns (values `k + row / 10`): eval's and
/// train's input.
fn labeled() -> String {
    let mut out = String::new();
    for (i, line) in example().lines().enumerate() {
        if i == 0 {
            out += &format!("{line}\tgene_id\t{}\n", TISSUES.join("\t"));
        } else {
            let values: Vec<String> = (0..30).map(|k| format!("{}", k as f32 + i as f32 / 10.0)).collect();
            out += &format!("{line}\tg{}\t{}\n", i % 2, values.join("\t"));
        }
    }
    out
}

/// `labeled()` with one field of data row `row` replaced.
fn labeled_with(column: &str, row: usize, value: &str) -> String {
    let text = labeled();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let k = lines[0].split('\t').position(|c| c == column).unwrap();
    let mut fields: Vec<String> = lines[row].split('\t').map(String::from).collect();
    fields[k] = value.into();
    lines[row] = fields.join("\t");
    lines.join("\n") + "\n"
}

/// The tiny model's files with `edit` applied to (file name, text).
fn model_with(edit: impl Fn(&str, String) -> String) -> Vec<(String, Vec<u8>)> {
    let dir = root().join("models/tiny");
    ["config.json", "model.safetensors", "dna_vocab_list.txt", "rna_vocab_list.txt", "protein_vocab_list.txt"]
        .iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(f)).unwrap();
            let bytes = if f.ends_with(".safetensors") { bytes } else { edit(f, String::from_utf8(bytes).unwrap()).into_bytes() };
            (format!("m/{f}"), bytes)
        })
        .collect()
}

fn config_with(edit: impl Fn(String) -> String) -> Vec<(String, Vec<u8>)> {
    model_with(|f, t| if f == "config.json" { edit(t) } else { t })
}

/// The tiny model with the first element of `tensor` set to NaN.
fn nan_model() -> Vec<(String, Vec<u8>)> {
    let bytes = std::fs::read(root().join("models/tiny/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = st
        .names()
        .into_iter()
        .map(|n| {
            let t = st.tensor(n).unwrap();
            let mut data = t.data().to_vec();
            if n.ends_with("cross_attention_layer_rna.query.weight") || n.ends_with("head.out.weight") {
                data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
            }
            (n.to_string(), t.dtype(), t.shape().to_vec(), data)
        })
        .collect();
    let views: Vec<_> = owned.iter().map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap())).collect();
    let weights = safetensors::serialize(views, None).unwrap();
    model_with(|_, t| t).into_iter().map(|(n, b)| if n.ends_with(".safetensors") { (n, weights.clone()) } else { (n, b) }).collect()
}

fn with_model(mut c: Case, files: Vec<(String, Vec<u8>)>) -> Case {
    c.files.extend(files);
    c
}

const BOM: &str = "\u{feff}";

fn gz_garbage() -> Vec<u8> {
    let mut v = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    v.extend_from_slice(b"this is not deflate data at all");
    v
}

/// A config with one more field replaced (`"key": value` text, as JSON).
fn set_field(text: String, key: &str, value: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[key] = serde_json::from_str(value).unwrap();
    serde_json::to_string_pretty(&v).unwrap()
}

fn drop_field(text: String, key: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v.as_object_mut().unwrap().remove(key);
    serde_json::to_string_pretty(&v).unwrap()
}

/// The protein vocabulary with `<pad>` and `<eos>` swapped (ids 1 and 2).
fn swapped_protein_vocab(f: &str, t: String) -> String {
    if f != "protein_vocab_list.txt" {
        return t;
    }
    let mut lines: Vec<&str> = t.lines().collect();
    lines.swap(1, 2);
    lines.join("\n") + "\n"
}

// ---------------------------------------------------------------- the model-input cases

/// Bad model directories and weights: shared by predict, eval and train (`cmd` takes `m` as
/// the model and writes `out`).
fn model_cases(cmd: &str) -> Vec<Case> {
    vec![
        case("model dir missing", &cmd.replace("MODEL", "nomodel"), &["nomodel/config.json: cannot read"]),
        with_model(case("config.json is []", &cmd.replace("MODEL", "m"), &["config.json", "holds an array, not a JSON object"]), config_with(|_| "[]".into())),
        with_model(case("config.json lacks enformer_dim", &cmd.replace("MODEL", "m"), &["config.json", "no `enformer_dim` field"]), config_with(|t| drop_field(t, "enformer_dim"))),
        with_model(case("config.json with a BOM", &cmd.replace("MODEL", "m"), &["config.json", "byte-order mark"]), config_with(|t| format!("{BOM}{t}"))),
        with_model(case("config.json with 10^12 layers", &cmd.replace("MODEL", "m"), &["config.json", "esm_num_hidden_layers", "more than this version allows"]), config_with(|t| set_field(t, "esm_num_hidden_layers", "1000000000000"))),
        with_model(case("config.json not JSON", &cmd.replace("MODEL", "m"), &["config.json", "not valid JSON"]), config_with(|t| t[..t.len() / 2].to_string())),
        with_model(case("protein vocab in another order", &cmd.replace("MODEL", "m"), &["protein_vocab_list.txt", "`<pad>` is token 2 here", "esm_pad_token_id"]), model_with(swapped_protein_vocab)),
        with_model(case("NaN in the weights", &cmd.replace("MODEL", "m"), &["model.safetensors", "NaN", "must be finite"]), nan_model()),
    ]
}

#[test]
fn predict_bad_inputs() {
    let p = "predict -m @M -i in.tsv -o out.tsv";
    let row1 = dna_of_row(1);
    let mut cases = vec![
        case("input missing", "predict -m @M -i no/such.tsv -o out.tsv", &["no/such.tsv: cannot open"]),
        case("input empty", p, &["in.tsv: empty file"]).file("in.tsv", ""),
        case("input a directory", "predict -m @M -i sub -o out.tsv", &["sub: cannot read"]).file("sub/x", ""),
        case("no protein column", p, &["in.tsv:1", "no `protein` column"]).file("in.tsv", "transcript_id\tdna\trna\n"),
        case("column twice", p, &["in.tsv:1", "column `dna` appears twice"]).file("in.tsv", "transcript_id\tdna\trna\tprotein\tdna\n"),
        case("BOM", p, &["in.tsv", "byte-order mark"]).file("in.tsv", format!("{BOM}{}", example())),
        case("gzip BOM", p, &["in.tsv", "byte-order mark"]).file("in.tsv", {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(format!("{BOM}{}", example()).as_bytes()).unwrap();
            gz.finish().unwrap()
        }),
        case("corrupt gzip", p, &["in.tsv"]).file("in.tsv", gz_garbage()),
        case("too few fields", p, &["in.tsv:2", "2 fields, but the header has 4"]).file("in.tsv", "transcript_id\tdna\trna\tprotein\nx\tACGT\n"),
        case("protein J", p, &["in.tsv:2", "'J' is not an allowed protein letter"]).file("in.tsv", edited("protein", 1, "MJK")),
        case("protein -", p, &["in.tsv:2", "'-' is not an allowed protein letter"]).file("in.tsv", edited("protein", 1, "-")),
        case("protein .", p, &["in.tsv:2", "'.' is not an allowed protein letter"]).file("in.tsv", edited("protein", 1, "MK.")),
        // `<mask>` written out is ESM-2's token (the bundled example and the PyTorch parity
        // fixture use it); anything else in angle brackets is refused.
        case("protein <MASK>", p, &["in.tsv:2", "'<' is not an allowed protein letter"]).file("in.tsv", edited("protein", 1, "MK<MASK>")),
        case("protein <mask unclosed", p, &["in.tsv:2", "'<' is not an allowed protein letter"]).file("in.tsv", edited("protein", 1, "MK<mask")),
        case("protein stop *", p, &["in.tsv:2", "'*' is not an allowed protein letter"]).file("in.tsv", edited("protein", 1, "MK*")),
        case("DNA X", p, &["in.tsv:3", "'X' is not an allowed DNA letter"]).file("in.tsv", edited("dna", 2, &format!("X{}", &dna_of_row(2)[1..]))),
        case("RNA é", p, &["in.tsv:2", "'é' is not an allowed RNA letter"]).file("in.tsv", edited("rna", 1, "ACé")),
        case("RNA digit", p, &["in.tsv:2", "'1' is not an allowed RNA letter"]).file("in.tsv", edited("rna", 1, "AC1G")),
        case("DNA length not a multiple", p, &["in.tsv:2", "not a positive multiple of 8"]).file("in.tsv", edited("dna", 1, &format!("{row1}A"))),
        case("DNA too short", p, &["in.tsv:2", "fewer than enformer_target_length"]).file("in.tsv", edited("dna", 1, "ACGTACGT")),
        case("DNA empty", p, &["in.tsv:2"]).file("in.tsv", edited("dna", 1, "")),
        case("id twice", p, &["in.tsv:3", "already on line 2"]).file("in.tsv", edited("transcript_id", 2, "tiny_tx1")),
        case("id empty", p, &["in.tsv:2", "empty transcript_id"]).file("in.tsv", edited("transcript_id", 1, "")),
        case("id with a control character", p, &["in.tsv:2", "transcript_id has a control character (U+0001) at position 3"]).file("in.tsv", edited("transcript_id", 1, "tx\u{1}1")),
        case("200 kB header", p, &["in.tsv:1", "…"]).file("in.tsv", format!("{}\tdna\trna\tprotein\n", "x".repeat(200_000))),
        case("output is the input", "predict -m @M -i in.tsv -o in.tsv", &["in.tsv: is an input of this run"]).file("in.tsv", example()),
        case("output is a model file", "predict -m m -i @EX -o m/config.json", &["m/config.json: is an input of this run"]).file("m/config.json", std::fs::read(root().join("models/tiny/config.json")).unwrap()),
        case("-o and --plot on one file", "predict -m @M -i @EX -o s.svg --plot s.svg", &["s.svg: given twice as an output"]),
        case("-o and --dump-embeddings on one file", "predict -m @M -i @EX -o x.tsv --dump-embeddings ./x.tsv", &["./x.tsv: given twice as an output"]),
        case("output in a missing directory", "predict -m @M -i @EX -o no/such/out.tsv", &["no/such/out.tsv: cannot create"]),
        case("output is a directory", "predict -m @M -i @EX -o sub", &["sub: is a directory"]).file("sub/x", ""),
        case("plot of unknown type", "predict -m @M -i @EX -o out.tsv --plot h.jpg", &["h.jpg"]),
        case("parquet .gz", "predict -m @M -i @EX -o out.parquet.gz --format parquet", &["out.parquet.gz", "drop the .gz"]),
        case("batch size 0", "predict -m @M -i @EX -o out.tsv -b 0", &["--batch-size must be at least 1"]),
        case("threads 0", "predict -m @M -i @EX -o out.tsv -j 0", &["--threads must be at least 1"]),
        case("FASTA: RNA lacks a record", "predict -m @M --dna d.fa --rna r.fa --protein p.fa -o out.tsv", &["r.fa:1", "record `t2` has no DNA record in d.fa"])
            .file("d.fa", format!(">t1\n{row1}\n"))
            .file("r.fa", ">t2\nACGU\n")
            .file("p.fa", ">t1\nMK\n"),
        case("FASTA: BOM", "predict -m @M --dna d.fa --rna r.fa --protein p.fa -o out.tsv", &["d.fa", "byte-order mark"])
            .file("d.fa", format!("{BOM}>t1\n{row1}\n"))
            .file("r.fa", ">t1\nACGU\n")
            .file("p.fa", ">t1\nMK\n"),
        case("FASTA: protein J", "predict -m @M --dna d.fa --rna r.fa --protein p.fa -o out.tsv", &["p.fa:2", "'J'"])
            .file("d.fa", format!(">t1\n{row1}\n"))
            .file("r.fa", ">t1\nACGU\n")
            .file("p.fa", ">t1\nMJ\n"),
        case("FASTA: protein record missing", "predict -m @M --dna d.fa --rna r.fa --protein p.fa -o out.tsv", &["p.fa", "t2"])
            .file("d.fa", format!(">t1\n{row1}\n>t2\n{row1}\n"))
            .file("r.fa", ">t1\nACGU\n>t2\nAC\n")
            .file("p.fa", ">t1\nMK\n"),
        case("FASTA: protein file empty", "predict -m @M --dna d.fa --rna r.fa --protein p.fa -o out.tsv", &["p.fa: empty file"])
            .file("d.fa", format!(">t1\n{row1}\n"))
            .file("r.fa", ">t1\nACGU\n")
            .file("p.fa", ""),
        case("FASTA: two from stdin", "predict -m @M --dna - --rna - --protein p.fa -o out.tsv", &["at most one of --dna, --rna, --protein can be `-`"]),
    ];
    cases.extend(model_cases("predict -m MODEL -i @EX -o out.tsv"));
    run_table("predict", cases, 30);
}

const GTF_LINE: &str = "chr3\tx\texon\t100\t200\t.\t+\t.\tgene_id \"G1\"; transcript_id \"T1\";";

fn gtf(lines: &[&str]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[test]
fn prepare_bad_inputs() {
    let p = "prepare --genome @G --annotation a.gtf --all -w 80 -o out.tsv";
    let cases = vec![
        case("genome missing", "prepare --genome no.fa --annotation @A --all -w 80 -o out.tsv", &["no.fa"]),
        case("annotation missing", "prepare --genome @G --annotation no.gtf --all -w 80 -o out.tsv", &["no.gtf: cannot open"]),
        case("annotation empty", p, &["a.gtf: empty file"]).file("a.gtf", ""),
        case("annotation comments only", p, &["a.gtf"]).file("a.gtf", "# nothing\n"),
        case("annotation BOM", p, &["a.gtf", "byte-order mark"]).file("a.gtf", format!("{BOM}{GTF_LINE}\n")),
        case("8 fields", p, &["a.gtf:1", "8 tab-separated fields, expected 9"]).file("a.gtf", "chr3\tx\texon\t100\t200\t.\t+\t.\n"),
        case("start not a number", p, &["a.gtf:1", "\"1x\" is not a positive integer"]).file("a.gtf", gtf(&[&GTF_LINE.replace("\t100\t", "\t1x\t")])),
        case("start 0", p, &["a.gtf:1", "not a positive integer"]).file("a.gtf", gtf(&[&GTF_LINE.replace("\t100\t", "\t0\t")])),
        case("start after end", p, &["a.gtf:1", "start 300 is after end 200"]).file("a.gtf", gtf(&[&GTF_LINE.replace("\t100\t", "\t300\t")])),
        case("bad strand", p, &["a.gtf:1", "strand \"?\""]).file("a.gtf", gtf(&[&GTF_LINE.replace("\t+\t", "\t?\t")])),
        case("bad phase", p, &["a.gtf:2", "phase \"5\""]).file("a.gtf", gtf(&[GTF_LINE, &GTF_LINE.replace("exon", "CDS").replace("\t.\tgene", "\t5\tgene")])),
        case("no transcript_id", p, &["a.gtf:1", "no transcript_id attribute"]).file("a.gtf", gtf(&[&GTF_LINE.replace(" transcript_id \"T1\";", "")])),
        case("unterminated quote", p, &["a.gtf:1", "unterminated quote"]).file("a.gtf", gtf(&[&GTF_LINE.replace("\"T1\";", "\"T1")])),
        case("transcript under two genes", p, &["a.gtf:2", "transcript T1 is in gene G2 here but in gene G1 at line 1"])
            .file("a.gtf", gtf(&[GTF_LINE, &GTF_LINE.replace("G1", "G2").replace("\t100\t200", "\t300\t400")])),
        case("overlapping exons", p, &["a.gtf:2", "overlaps the exon at line 1"]).file("a.gtf", gtf(&[GTF_LINE, &GTF_LINE.replace("\t100\t200", "\t150\t250")])),
        case("CDS outside its exons", p, &["a.gtf:2", "not inside one of its exons"])
            .file("a.gtf", gtf(&[GTF_LINE, &GTF_LINE.replace("exon", "CDS").replace("\t100\t200", "\t500\t600").replace("\t.\tgene", "\t0\tgene")])),
        case("no exons", p, &["a.gtf", "no exon records"]).file("a.gtf", gtf(&[&GTF_LINE.replace("exon", "gene")])),
        case("200 kB attribute", p, &["a.gtf:1", "…"]).file("a.gtf", gtf(&[&GTF_LINE.replace("\"T1\";", &format!("\"T1\" {};", "y".repeat(200_000)))])),
        case("sequence not in the genome", p, &["a.gtf:1", "sequence `chrZZ`", "is not in"]).file("a.gtf", gtf(&[&GTF_LINE.replace("chr3", "chrZZ")])),
        case("GFF3 unknown Parent", "prepare --genome @G --annotation a.gff3 --all -w 80 -o out.tsv", &["a.gff3:2", "Parent \"nope\""])
            .file("a.gff3", "##gff-version 3\nchr3\tx\texon\t100\t200\t.\t+\t.\tParent=nope\n"),
        case("window 0", "prepare --genome @G --annotation @A --all -w 0 -o out.tsv", &["--window must be positive"]),
        case("window 2^64-1", "prepare --genome @G --annotation @A --all -w 18446744073709551615 -o out.tsv", &["--window 18446744073709551615 is more than"]),
        case("window 10^12", "prepare --genome @G --annotation @A --all -w 1000000000000 -o out.tsv", &["--window 1000000000000 is more than"]),
        case("window not for the model", "prepare --genome @G --annotation @A --all --model @M -w 100 -o out.tsv", &["--window 100 does not suit"]),
        case("unknown transcript", "prepare --genome @G --annotation @A --transcripts ENST_NOPE -w 80 -o out.tsv", &["genes.gtf", "no transcript `ENST_NOPE`"]),
        case("versioned id of another version", "prepare --genome @G --annotation a.gtf --transcripts T1.4 -w 80 -o out.tsv", &["a.gtf", "no transcript `T1.4`"]).file("a.gtf", gtf(&[&GTF_LINE.replace("\"T1\"", "\"T1.3\"")])),
        case("unknown gene", "prepare --genome @G --annotation @A --genes NOPE -w 80 -o out.tsv", &["genes.gtf", "no gene `NOPE`"]),
        case("chrom map missing", "prepare --genome @G --annotation @A --all -w 80 --chrom-map no.tsv -o out.tsv", &["no.tsv"]),
        case("chrom map one column", "prepare --genome @G --annotation @A --all -w 80 --chrom-map map.tsv -o out.tsv", &["map.tsv:1"]).file("map.tsv", "chr3\n"),
        case("genome not FASTA", "prepare --genome g.fa --annotation @A --all -w 80 -o out.tsv", &["g.fa"]).file("g.fa", "hello\n"),
        case("uncompressed genome without .fai", "prepare --genome g.fa --annotation @A --all -w 80 -o out.tsv", &["g.fa", ".fai"]).file("g.fa", ">chr3\nACGT\n"),
        case("output is the annotation", "prepare --genome @G --annotation a.gtf --all -w 80 -o a.gtf", &["a.gtf: is an input of this run"]).file("a.gtf", gtf(&[GTF_LINE])),
        case("output is the genome", "prepare --genome g.fa.gz --annotation @A --all -w 80 -o ./g.fa.gz", &["./g.fa.gz: is an input of this run"]).file("g.fa.gz", std::fs::read(root().join("examples/genome.fa.gz")).unwrap()),
        case("output in a missing directory", "prepare --genome @G --annotation @A --all -w 80 -o no/out.tsv", &["no/out.tsv: cannot create"]),
        case("output is a directory", "prepare --genome @G --annotation @A --all -w 80 -o sub", &["sub: is a directory"]).file("sub/x", ""),
        with_model(case("model config []", "prepare --genome @G --annotation @A --all --model m -w 80 -o out.tsv", &["m/config.json", "holds an array"]), config_with(|_| "[]".into())),
        case("no selection", "prepare --genome @G --annotation @A -w 80 -o out.tsv", &["required"]).status(2),
    ];
    run_table("prepare", cases, 30);
}

#[test]
fn train_bad_inputs() {
    let t = "train -m @M --train t.tsv --out out --epochs 1 -q --no-cache";
    let mut cases = vec![
        case("train TSV missing", "train -m @M --train no.tsv --out out --epochs 1 --no-cache", &["no.tsv: cannot open"]),
        case("train TSV empty", t, &["t.tsv: empty file"]).file("t.tsv", ""),
        case("train TSV BOM", t, &["t.tsv", "byte-order mark"]).file("t.tsv", format!("{BOM}{}", labeled())),
        case("train TSV header only", t, &["t.tsv"]).file("t.tsv", labeled().lines().next().unwrap().to_string() + "\n"),
        case("no target columns", t, &["t.tsv"]).file("t.tsv", example()),
        case("target not a number", t, &["t.tsv:3", "Brain"]).file("t.tsv", labeled_with("Brain", 2, "high")),
        case("target NaN", t, &["t.tsv:2", "Liver"]).file("t.tsv", labeled_with("Liver", 1, "NaN")),
        case("target inf", t, &["t.tsv:2", "Liver"]).file("t.tsv", labeled_with("Liver", 1, "inf")),
        case("target empty", t, &["t.tsv:2", "Lung"]).file("t.tsv", labeled_with("Lung", 1, "")),
        case("--targets names no column", "train -m @M --train t.tsv --out out --epochs 1 --no-cache --targets Nope", &["t.tsv", "Nope"]).file("t.tsv", labeled()),
        case("column twice", t, &["t.tsv:1", "appears twice"]).file("t.tsv", labeled().replacen("\tBrain\t", "\tBlood\t", 1)),
        case("field count", t, &["t.tsv:3", "fields, but the header has"]).file("t.tsv", {
            let l = labeled();
            let mut lines: Vec<&str> = l.lines().collect();
            let short = lines[2].rsplit_once('\t').unwrap().0.to_string();
            lines[2] = &short;
            lines.join("\n") + "\n"
        }),
        case("protein J", t, &["t.tsv:2", "'J'"]).file("t.tsv", labeled_with("protein", 1, "MJ")),
        case("DNA wrong length", t, &["t.tsv:2", "not a positive multiple of 8"]).file("t.tsv", labeled_with("dna", 1, &format!("{}A", dna_of_row(1)))),
        case("id twice", t, &["t.tsv:3", "already on line 2"]).file("t.tsv", labeled_with("transcript_id", 2, "tiny_tx1")),
        case("valid TSV missing", "train -m @M --train t.tsv --valid no.tsv --out out --epochs 1 --no-cache", &["no.tsv: cannot open"]).file("t.tsv", labeled()),
        case("valid TSV lacks a target", "train -m @M --train t.tsv --valid v.tsv --out out --epochs 1 --no-cache", &["v.tsv:1", "Vagina"]).file("t.tsv", labeled()).file("v.tsv", {
            let l = labeled();
            l.lines().map(|line| line.rsplit_once('\t').unwrap().0.to_string() + "\n").collect::<String>()
        }),
        case("--lr 0", "train -m @M --train t.tsv --out out --lr 0 --no-cache", &["--lr 0 must be in (0, 1]"]).file("t.tsv", labeled()),
        case("--lr 2", "train -m @M --train t.tsv --out out --lr 2 --no-cache", &["--lr 2 must be in (0, 1]"]).file("t.tsv", labeled()),
        case("--min-lr above --lr", "train -m @M --train t.tsv --out out --lr 0.001 --min-lr 0.01 --no-cache", &["--min-lr 0.01 must be in [0, --lr]"]).file("t.tsv", labeled()),
        case("--clip-grad-norm negative", "train -m @M --train t.tsv --out out --clip-grad-norm=-1 --no-cache", &["--clip-grad-norm must be"]).file("t.tsv", labeled()),
        case("-j 0", "train -m @M --train t.tsv --out out -j 0 --no-cache", &["--threads must be at least 1"]).file("t.tsv", labeled()),
        case("--out is the model", "train -m m --train t.tsv --out m --epochs 1 --no-cache", &["m: is an input of this run"]).file("t.tsv", labeled()).file("m/config.json", "{}"),
        case("--out holds the training file", "train -m @M --train d/t.tsv --out d --epochs 1 --no-cache", &["d: output directory holds d/t.tsv"]).file("d/t.tsv", labeled()),
        case("--out is a file", "train -m @M --train t.tsv --out f --epochs 1 --no-cache", &["f: is not a directory"]).file("t.tsv", labeled()).file("f", "x"),
        case("--out under a file", "train -m @M --train t.tsv --out f/out --epochs 1 --no-cache", &["f/out"]).file("t.tsv", labeled()).file("f", "x"),
        case("--resume without a checkpoint", "train -m @M --train t.tsv --out out --epochs 1 --no-cache --resume -q", &["out"]).file("t.tsv", labeled()).file("out/keep", ""),
    ];
    cases.extend(model_cases("train -m MODEL --train t.tsv --out out --epochs 1 -q --no-cache").into_iter().map(|c| c.file("t.tsv", labeled())));
    run_table("train", cases, 30);
}

#[test]
fn eval_bad_inputs() {
    let e = "eval -m @M -d d.tsv -o m.tsv";
    let mut cases = vec![
        case("data missing", "eval -m @M -d no.tsv -o m.tsv", &["no.tsv: cannot open"]),
        case("data empty", e, &["d.tsv: empty file"]).file("d.tsv", ""),
        case("data BOM", e, &["d.tsv", "byte-order mark"]).file("d.tsv", format!("{BOM}{}", labeled())),
        case("data without targets", e, &["d.tsv:1", "Adipose Tissue"]).file("d.tsv", example()),
        case("target not a number", e, &["d.tsv:2", "Brain"]).file("d.tsv", labeled_with("Brain", 1, "x")),
        case("target NaN", e, &["d.tsv:3", "Heart"]).file("d.tsv", labeled_with("Heart", 2, "nan")),
        case("column twice", e, &["d.tsv:1", "appears twice"]).file("d.tsv", labeled().replacen("\tBrain\t", "\tBlood\t", 1)),
        case("protein -", e, &["d.tsv:2", "'-'"]).file("d.tsv", labeled_with("protein", 1, "M-K")),
        case("DNA too short", e, &["d.tsv:2", "fewer than enformer_target_length"]).file("d.tsv", labeled_with("dna", 1, "ACGTACGT")),
        case("id twice", e, &["d.tsv:3", "already on line 2"]).file("d.tsv", labeled_with("transcript_id", 2, "tiny_tx1")),
        case("-o and --json on one file", "eval -m @M -d d.tsv -o m.tsv --json m.tsv", &["m.tsv: given twice as an output"]).file("d.tsv", labeled()),
        case("--predictions is the data", "eval -m @M -d d.tsv -o m.tsv --predictions d.tsv", &["d.tsv: is an input of this run"]).file("d.tsv", labeled()),
        case("-o is the data", "eval -m @M -d d.tsv -o ./d.tsv", &["./d.tsv: is an input of this run"]).file("d.tsv", labeled()),
        case("--json is the baseline", "eval -m @M -d d.tsv -o m.tsv --baseline b.tsv --json b.tsv", &["b.tsv: is an input of this run"]).file("d.tsv", labeled()).file("b.tsv", labeled()),
        case("-o on a plot file", "eval -m @M -d d.tsv -o p/metrics.svg --plot p", &["metrics.svg: given twice as an output"]).file("d.tsv", labeled()),
        case("--plot is a file", "eval -m @M -d d.tsv -o m.tsv --plot f", &["f"]).file("d.tsv", labeled()).file("f", "x"),
        case("--plot-target unknown", "eval -m @M -d d.tsv -o m.tsv --plot p --plot-target Nope", &["--plot-target \"Nope\""]).file("d.tsv", labeled()),
        case("--baseline missing", "eval -m @M -d d.tsv -o m.tsv --baseline no.tsv", &["no.tsv: cannot open"]).file("d.tsv", labeled()),
        case("--baseline lacks a target", "eval -m @M -d d.tsv -o m.tsv --baseline b.tsv", &["b.tsv:1", "Adipose Tissue"]).file("d.tsv", labeled()).file("b.tsv", example()),
        case("--against missing", "eval -m @M -d @EX -o m.tsv --against nomodel", &["nomodel/config.json: cannot read"]),
        case("-o in a missing directory", "eval -m @M -d d.tsv -o no/m.tsv", &["no/m.tsv: cannot create"]).file("d.tsv", labeled()),
        case("--json in a missing directory", "eval -m @M -d d.tsv -o m.tsv --json no/m.json", &["no/m.json: cannot create"]).file("d.tsv", labeled()),
        case("-o a directory", "eval -m @M -d d.tsv -o sub", &["sub: is a directory"]).file("d.tsv", labeled()).file("sub/x", ""),
        case("batch 0", "eval -m @M -d d.tsv -o m.tsv -b 0", &["--batch-size must be at least 1"]).file("d.tsv", labeled()),
        case("-j 0", "eval -m @M -d d.tsv -o m.tsv -j 0", &["--threads must be at least 1"]).file("d.tsv", labeled()),
        case("corrupt gzip data", e, &["d.tsv"]).file("d.tsv", gz_garbage()),
    ];
    cases.extend(model_cases("eval -m MODEL -d d.tsv -o m.tsv").into_iter().map(|c| c.file("d.tsv", labeled())));
    run_table("eval", cases, 30);
}

/// prepare's output plus a gene_id per row: split's input (`n` rows, genes `g0`..).
fn genes_tsv(n: usize) -> String {
    let mut s = String::from("transcript_id\tgene_id\tvalue\n");
    for i in 0..n {
        s += &format!("t{i}\tg{}\t{i}\n", i / 2);
    }
    s
}

#[test]
fn split_bad_inputs() {
    let s = "split -i in.tsv -o out";
    let cases = vec![
        case("input missing", "split -i no.tsv -o out", &["no.tsv: cannot open"]),
        case("input empty", s, &["in.tsv: empty file"]).file("in.tsv", ""),
        case("input BOM", s, &["in.tsv", "byte-order mark"]).file("in.tsv", format!("{BOM}{}", genes_tsv(10))),
        case("no gene_id column", s, &["in.tsv:1", "no `gene_id` column"]).file("in.tsv", "transcript_id\tvalue\nt1\t1\n"),
        case("empty gene_id", s, &["in.tsv:3", "empty gene_id"]).file("in.tsv", "transcript_id\tgene_id\nt1\tg1\nt2\t\n"),
        case("no rows", s, &["in.tsv:1", "no rows after the header"]).file("in.tsv", "transcript_id\tgene_id\n"),
        case("column twice", s, &["in.tsv:1", "appears twice"]).file("in.tsv", "gene_id\tx\tgene_id\ng\t1\tg\n"),
        case("field count", s, &["in.tsv:3", "1 fields, but the header has 3"]).file("in.tsv", "transcript_id\tgene_id\tvalue\nt1\tg1\t1\nt2\n"),
        case("corrupt gzip", s, &["in.tsv"]).file("in.tsv", gz_garbage()),
        case("200 kB header without gene_id", s, &["in.tsv:1", "…"]).file("in.tsv", format!("{}\n", "h".repeat(200_000))),
        case("fractions sum to 0.9", "split -i in.tsv -o out --fractions 0.8,0.05,0.05", &["--fractions"]).file("in.tsv", genes_tsv(10)),
        case("fractions sum to 1.2", "split -i in.tsv -o out --fractions 0.8,0.2,0.2", &["--fractions"]).file("in.tsv", genes_tsv(10)),
        case("negative fraction", "split -i in.tsv -o out --fractions 1.2,-0.2", &["--fractions"]).file("in.tsv", genes_tsv(10)),
        case("NaN fraction", "split -i in.tsv -o out --fractions NaN,0.5", &["--fractions"]).file("in.tsv", genes_tsv(10)),
        case("infinite fraction", "split -i in.tsv -o out --fractions inf,0", &["--fractions"]).file("in.tsv", genes_tsv(10)),
        case("fraction not a number", "split -i in.tsv -o out --fractions a,b", &["--fractions"]).file("in.tsv", genes_tsv(10)).status(2),
        case("names twice", "split -i in.tsv -o out --names a,a --fractions 0.5,0.5", &["--names: `a` given twice"]).file("in.tsv", genes_tsv(10)),
        case("names fewer than fractions", "split -i in.tsv -o out --names a,b", &["--names has 2 names for 3 fractions"]).file("in.tsv", genes_tsv(10)),
        case("names more than fractions", "split -i in.tsv -o out --names a,b,c --fractions 0.5,0.5", &["--names has 3 names for 2 fractions"]).file("in.tsv", genes_tsv(10)),
        case("name with a slash", "split -i in.tsv -o out --names train,no/such --fractions 0.5,0.5", &["--names: `no/such`"]).file("in.tsv", genes_tsv(10)),
        case("empty name", "split -i in.tsv -o out --names train, --fractions 0.5,0.5", &["--names: ``"]).file("in.tsv", genes_tsv(10)),
        case("prefix in a missing directory", "split -i in.tsv -o no/such/out", &["no/such/out.train.tsv: cannot create"]).file("in.tsv", genes_tsv(10)),
        case("a part is the input", "split -i p.train.tsv -o p", &["p.train.tsv: is an input of this run"]).file("p.train.tsv", genes_tsv(10)),
        case("a part is the gz input", "split -i p.test.tsv.gz -o p --gzip", &["p.test.tsv.gz: is an input of this run"]).file("p.test.tsv.gz", {
            use std::io::Write;
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(genes_tsv(10).as_bytes()).unwrap();
            gz.finish().unwrap()
        }),
        case("a part is a directory", "split -i in.tsv -o out", &["out.valid.tsv: is a directory"]).file("in.tsv", genes_tsv(10)).file("out.valid.tsv/x", ""),
        case("prefix under a file", "split -i in.tsv -o f/out", &["f/out.train.tsv: cannot create"]).file("in.tsv", genes_tsv(10)).file("f", "x"),
        case("input a directory", "split -i sub -o out", &["sub: cannot read"]).file("sub/x", ""),
        case("unknown --by", "split -i in.tsv -o out --by transcript", &["transcript"]).file("in.tsv", genes_tsv(10)).status(2),
        case("one fraction of 0", "split -i in.tsv -o out --fractions 0", &["--fractions"]).file("in.tsv", genes_tsv(10)),
        case("no fractions", "split -i in.tsv -o out --fractions=", &["--fractions"]).file("in.tsv", genes_tsv(10)).status(2),
        case("standard input empty", "split -i - -o out", &["<stdin>: empty file"]),
    ];
    run_table("split", cases, 30);
}

/// A safetensors file with this header text and `data` zero bytes after it.
fn safetensors_bytes(header: &str, data: usize) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend(std::iter::repeat_n(0u8, data));
    v
}

#[test]
fn convert_bad_inputs() {
    let hub_config = std::fs::read_to_string(root().join("tests/fixtures/hub/tiny/config.json")).unwrap();
    let ckpt = std::fs::read(root().join("tests/fixtures/hub/tiny/pytorch_model.bin")).unwrap();
    let c = "convert in.bin -o out/model.safetensors --no-manifest";
    let cases = vec![
        case("input missing", "convert no.bin -o out.safetensors", &["no.bin"]),
        case("input empty", c, &["in.bin"]).file("in.bin", ""),
        case("input text", c, &["in.bin"]).file("in.bin", "hello, I am not a checkpoint\n"),
        case("input random bytes", c, &["in.bin"]).file("in.bin", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<u8>>()),
        case("input a directory", "convert sub -o out.safetensors", &["sub"]).file("sub/x", ""),
        case("truncated ZIP checkpoint", c, &["in.bin"]).file("in.bin", ckpt[..ckpt.len() / 2].to_vec()),
        case("hostile pickle: os.system", "convert @HUB/evil_os_system.bin -o out.safetensors --no-manifest", &["evil_os_system.bin", "refusing"]),
        case("hostile pickle: exec", "convert @HUB/evil_exec.pkl -o out.safetensors --no-manifest", &["evil_exec.pkl"]),
        case("safetensors header longer than the file", "convert in.safetensors -o out.safetensors --no-manifest", &["in.safetensors"]).file("in.safetensors", {
            let mut v = (1u64 << 40).to_le_bytes().to_vec();
            v.extend_from_slice(b"{}");
            v
        }),
        case("safetensors header not JSON", "convert in.safetensors -o out.safetensors --no-manifest", &["in.safetensors"]).file("in.safetensors", safetensors_bytes("{not json", 0)),
        case("safetensors data missing", "convert in.safetensors -o out.safetensors --no-manifest", &["in.safetensors"])
            .file("in.safetensors", safetensors_bytes(r#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, 8)),
        case("safetensors unknown dtype", "convert in.safetensors -o out.safetensors --no-manifest", &["in.safetensors"])
            .file("in.safetensors", safetensors_bytes(r#"{"w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#, 1)),
        case("output is the input", "convert in.safetensors -o in.safetensors --no-manifest", &["in.safetensors", "is an input of this run"])
            .file("in.safetensors", safetensors_bytes(r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, 4)),
        case("output is the manifest", "convert in.bin -o manifest.json --config c.json", &["manifest.json", "given twice as an output"]).file("in.bin", ckpt.clone()).file("c.json", hub_config.clone()),
        case("output is the config", "convert in.bin -o c.json --config c.json", &["c.json", "is an input of this run"]).file("in.bin", ckpt.clone()).file("c.json", hub_config.clone()),
        case("output is a directory", "convert in.bin -o sub --config c.json", &["sub", "is a directory"]).file("in.bin", ckpt.clone()).file("c.json", hub_config.clone()).file("sub/x", ""),
        case("output under a file", "convert in.bin -o f/out.safetensors --config c.json", &["f"]).file("in.bin", ckpt.clone()).file("c.json", hub_config.clone()).file("f", "x"),
        case("--config missing", "convert in.bin -o out.safetensors --config no.json", &["no.json: cannot read"]).file("in.bin", ckpt.clone()),
        case("--config []", "convert in.bin -o out.safetensors --config c.json", &["c.json", "holds an array"]).file("in.bin", ckpt.clone()).file("c.json", "[]"),
        case("--config BOM", "convert in.bin -o out.safetensors --config c.json", &["c.json", "byte-order mark"]).file("in.bin", ckpt.clone()).file("c.json", format!("{BOM}{hub_config}")),
        case("--config lacks a field", "convert in.bin -o out.safetensors --config c.json", &["c.json", "no `esm_hidden_size` field"]).file("in.bin", ckpt.clone()).file("c.json", drop_field(hub_config.clone(), "esm_hidden_size")),
        case("--config absurd depth", "convert in.bin -o out.safetensors --config c.json", &["c.json", "enformer_depth", "more than this version allows"]).file("in.bin", ckpt.clone()).file("c.json", set_field(hub_config.clone(), "enformer_depth", "1000000000000")),
        case("--config not JSON", "convert in.bin -o out.safetensors --config c.json", &["c.json", "not valid JSON"]).file("in.bin", ckpt.clone()).file("c.json", "{\"enformer_dim\": "),
        case("--config of another geometry", "convert in.bin -o out.safetensors --config c.json", &["in.bin"]).file("in.bin", ckpt.clone()).file("c.json", set_field(hub_config.clone(), "esm_hidden_size", "48")),
        case("--config wider heads", "convert in.bin -o out.safetensors --config c.json", &["in.bin"]).file("in.bin", ckpt.clone()).file("c.json", set_field(hub_config.clone(), "esm_intermediate_size", "72")),
        case("config.json beside the input is []", "convert d/pytorch_model.bin -o out.safetensors", &["d/config.json", "holds an array"]).file("d/pytorch_model.bin", ckpt.clone()).file("d/config.json", "[]"),
        case("config.json beside the input mismatches", "convert d/pytorch_model.bin -o out.safetensors", &["d/pytorch_model.bin"]).file("d/pytorch_model.bin", ckpt.clone()).file("d/config.json", set_field(hub_config.clone(), "nt_hidden_size", "48")),
        case("gzip of a checkpoint", c, &["in.bin"]).file("in.bin", gz_garbage()),
        case("ZIP without data.pkl", c, &["in.bin"]).file("in.bin", {
            // An empty ZIP archive: the end-of-central-directory record alone.
            let mut v = vec![0x50, 0x4b, 0x05, 0x06];
            v.extend_from_slice(&[0u8; 18]);
            v
        }),
        case("no output given", "convert in.bin", &["required arguments", "--output"]).file("in.bin", ckpt.clone()).status(2),
        case("legacy pickle header only", c, &["in.bin"]).file("in.bin", vec![0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]),
    ];
    run_table("convert", cases, 30);
}

// ---------------------------------------------------------------- special output paths

fn run_in(dir: &Path, args: &[String]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isoformer"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// A device node made with mknod in `dir` (`c 1 3`: the null device; `c 1 7`: /dev/full), or
/// None when mknod is refused (not root).
fn mknod(dir: &Path, name: &str, minor: &str) -> Option<PathBuf> {
    let p = dir.join(name);
    let ok = Command::new("mknod").arg(&p).args(["c", "1", minor]).status().is_ok_and(|s| s.success());
    ok.then_some(p)
}

fn is_char_device(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_char_device())
}

/// The commands that write a file, each with `{OUT}` where the file goes, and a check of what
/// a full output holds.
fn writers() -> Vec<(&'static str, String, fn(&[u8]) -> bool)> {
    // `{OUT}` is followed by the suffix the command needs in the name, if any (`.svg`).
    let tiny = expand("@M");
    let ex = expand("@EX");
    vec![
        ("predict -o", format!("predict -m {tiny} -i {ex} -o {{OUT}}"), |b| b.starts_with(b"transcript_id\tAdipose Tissue") && b.split(|&c| c == b'\n').count() == 5),
        ("predict --plot", format!("predict -m {tiny} -i {ex} -o pred.tsv --plot {{OUT}}.svg --format tsv"), |b| b.starts_with(b"<svg") || b.starts_with(b"<?xml")),
        ("prepare -o", format!("prepare --genome {} --annotation {} --all -w 80 -o {{OUT}}", expand("@G"), expand("@A")), |b| b.starts_with(b"transcript_id\tgene_id") && b.split(|&c| c == b'\n').count() == 61),
        ("eval -o", format!("eval -m {tiny} -d labeled.tsv -o {{OUT}}"), |b| b.starts_with(b"target\tn\tr2")),
        ("eval --json", format!("eval -m {tiny} -d labeled.tsv -o m.tsv --json {{OUT}}"), |b| b.starts_with(b"{")),
        ("convert -o", format!("convert {} -o {{OUT}} --no-manifest", expand("@HUB/tiny/pytorch_model.bin")), |b| b.len() > 1000),
    ]
}

fn command(template: &str, out: &str) -> Vec<String> {
    template.replace("{OUT}", out).split_whitespace().map(String::from).collect()
}

#[test]
fn every_writer_streams_into_a_fifo_with_a_reader() {
    let dir = scratch("fifo");
    std::fs::write(dir.join("labeled.tsv"), labeled()).unwrap();
    for (what, template, whole) in writers() {
        let name = if template.contains("{OUT}.svg") { "fifo.svg" } else { "fifo" };
        let fifo = dir.join(name);
        let _ = std::fs::remove_file(&fifo);
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let out = run_in(&dir, &command(&template.replace("{OUT}.svg", "{OUT}"), name));
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        let got = reader.join().unwrap();
        assert!(whole(&got), "{what}: the reader got {} bytes: {:?}", got.len(), String::from_utf8_lossy(&got[..got.len().min(200)]));
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo_like(), "{what}: the FIFO was replaced");
        let stray: Vec<String> = listing(&dir).into_iter().filter(|p| p.contains(".tmp-")).collect();
        assert!(stray.is_empty(), "{what}: temporary files left: {stray:?}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}

impl FifoLike for std::fs::FileType {
    fn is_fifo_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_fifo()
    }
}

#[test]
fn every_writer_leaves_a_device_node_in_place() {
    let dir = scratch("mknod");
    std::fs::write(dir.join("labeled.tsv"), labeled()).unwrap();
    let Some(null) = mknod(&dir, "null", "3") else {
        println!("SKIPPED: mknod refused (not root): device-node cases not run");
        return;
    };
    for (what, template, _) in writers() {
        // The plot's name needs its extension: a link named .svg to the node.
        let target = if template.contains("{OUT}.svg") {
            let _ = std::fs::remove_file(dir.join("null.svg"));
            std::os::unix::fs::symlink(&null, dir.join("null.svg")).unwrap();
            "null".to_string()
        } else {
            null.to_str().unwrap().to_string()
        };
        let out = run_in(&dir, &command(&template, &target));
        assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(is_char_device(&null), "{what}: the device node was replaced");
    }
    // A full device (/dev/full's numbers): the write fails, the error names it, and the other
    // output of the run (already complete) is not left behind.
    let full = mknod(&dir, "full", "7").unwrap();
    std::os::unix::fs::symlink(&full, dir.join("full.svg")).unwrap();
    let before = listing(&dir);
    let args = command(&format!("predict -m {} -i {} -o pred.tsv --plot {{OUT}}", expand("@M"), expand("@EX")), "full.svg");
    let out = run_in(&dir, &args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: writing full.svg"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(is_char_device(&full));
    assert_eq!(listing(&dir), before, "predict left files after a failed write to a full device");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn proc_self_fd_links_and_dash_write_to_the_pipe() {
    let dir = scratch("procfd");
    std::fs::write(dir.join("labeled.tsv"), labeled()).unwrap();
    for (what, template, whole) in writers() {
        for target in ["/proc/self/fd/1", "-"] {
            if template.contains("{OUT}.svg") {
                // A plot's type comes from its name's extension, which these names lack.
                continue;
            }
            let out = run_in(&dir, &command(&template, target));
            assert!(out.status.success(), "{what} {target}: {}", String::from_utf8_lossy(&out.stderr));
            assert!(whole(&out.stdout), "{what} {target}: stdout got {} bytes", out.stdout.len());
        }
    }
    let stray: Vec<String> = listing(&dir).into_iter().filter(|p| p != "labeled.tsv" && p != "pred.tsv" && p != "m.tsv").collect();
    assert!(stray.is_empty(), "left behind: {stray:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_link_to_a_file_is_followed_not_replaced() {
    let dir = scratch("link");
    std::fs::write(dir.join("real.tsv"), "old\n").unwrap();
    std::os::unix::fs::symlink("real.tsv", dir.join("link.tsv")).unwrap();
    let out = run_in(&dir, &command(&format!("predict -m {} -i {} -o {{OUT}}", expand("@M"), expand("@EX")), "link.tsv"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::symlink_metadata(dir.join("link.tsv")).unwrap().file_type().is_symlink());
    assert!(std::fs::read_to_string(dir.join("real.tsv")).unwrap().starts_with("transcript_id\t"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_reader_that_goes_away_ends_the_run_quietly() {
    let dir = scratch("pipe");
    for args in [
        format!("inspect {} --tensors", expand("@M/model.safetensors")),
        format!("predict -m {} -i {} -o -", expand("@M"), expand("@EX")),
        format!("prepare --genome {} --annotation {} --all -w 80 -o -", expand("@G"), expand("@A")),
    ] {
        // The reader closes at once: every write meets a broken pipe.
        let mut child = Command::new(env!("CARGO_BIN_EXE_isoformer"))
            .args(args.split_whitespace())
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args}: {stderr}");
        assert!(stderr.is_empty(), "{args}: {stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// SIGINT, SIGTERM, SIGHUP during a run: the temporary outputs go, the status is 128 + signal.
#[test]
fn signals_remove_temporary_files() {
    let dir = scratch("signals");
    let fifo = dir.join("slow.tsv");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for (sig, status) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        if ignored_here(status - 128) {
            // Inherited by the run, which keeps an ignored signal ignored (as `nohup` wants).
            println!("SIG{sig} is ignored by this test process (started under nohup?): not tested");
            continue;
        }
        // The input is a FIFO nobody writes to: the run waits there with its outputs claimed.
        let mut child = Command::new(env!("CARGO_BIN_EXE_isoformer"))
            .args(["predict", "-m", &expand("@M"), "-i", "slow.tsv", "-o", "out.tsv", "--plot", "p.svg"])
            .current_dir(&dir)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while listing(&dir).iter().filter(|p| p.contains(".tmp-")).count() < 2 {
            assert!(std::time::Instant::now() < deadline, "the run never claimed its outputs");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().unwrap().success());
        let code = child.wait().unwrap().code();
        assert_eq!(code, Some(status), "SIG{sig}");
        assert_eq!(listing(&dir), ["slow.tsv"], "SIG{sig} left files");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Whether this process ignores signal `sig` (Linux's `/proc/self/status`; false elsewhere).
fn ignored_here(sig: i32) -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).and_then(|m| u64::from_str_radix(m.trim(), 16).ok());
    mask.is_some_and(|m| (m >> (sig - 1)) & 1 == 1)
}

#[test]
fn a_second_train_into_one_out_is_refused() {
    let dir = scratch("lock");
    std::fs::write(dir.join("t.tsv"), labeled()).unwrap();
    std::fs::create_dir(dir.join("out")).unwrap();
    let held = isoformer_io::DirLock::acquire(&dir.join("out")).unwrap();
    let out = run_in(&dir, &command(&format!("train -m {} --train t.tsv --out out --epochs 1 -q --no-cache", expand("@M")), ""));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: out: already in use by another isoformer run"), "{stderr}");
    assert_eq!(listing(&dir.join("out")), Vec::<String>::new(), "the refused run wrote into out");
    drop(held);
    std::fs::remove_dir_all(dir).unwrap();
}
