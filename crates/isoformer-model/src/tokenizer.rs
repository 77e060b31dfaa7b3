//! Tokenizers built from the three official vocab files.
//!
//! * DNA (`dna_vocab_list.txt`, `A C G T N <unk>`): one id per base; the model sees the
//!   one-hot of A, C, G, T, and every other letter (N and the other IUPAC codes) as all zeros
//!   (enformer-pytorch `seq_indices_to_one_hot`: N is index 4, dropped by `[..., :4]`).
//! * RNA (`rna_vocab_list.txt`, NT-v2 6-mers): `<cls>` first, no `<eos>`; the sequence is cut at
//!   each N, each piece gives 6-mers from the left and its leftover bases as single letters, and
//!   N is a token of its own. This is what transformers' `EsmTokenizer` gives on the same vocab
//!   (its trie splits on the longest known token from the left). RNA is written in DNA letters;
//!   `U` is read as `T` and lowercase is accepted. Any other letter becomes `<unk>`, one per letter
//!   (EsmTokenizer would merge a run of unknown letters into one `<unk>`).
//! * Protein (`protein_vocab_list.txt`, ESM-2): `<cls>` residues `<eos>`, one token per letter;
//!   special tokens such as `<mask>` are recognised inside the sequence, as EsmTokenizer does.

use std::collections::HashMap;

use crate::encoder::Modality;

/// A vocab file that does not have the official layout.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VocabError {
    #[error("{file}: token {token:?} is missing")]
    Missing { file: &'static str, token: String },
    #[error("{file}: line {line}: token {token:?} appears twice")]
    Duplicate { file: &'static str, line: usize, token: String },
    #[error("{file}: empty vocabulary")]
    Empty { file: &'static str },
}

/// A sequence the tokenizers cannot take.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenizeError {
    #[error("{kind} sequence: {found:?} at position {position} is not a letter")]
    BadChar { kind: Modality, found: char, position: usize },
}

fn parse_vocab(file: &'static str, text: &str) -> Result<(Vec<String>, HashMap<String, u32>), VocabError> {
    let tokens: Vec<String> = text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    if tokens.is_empty() {
        return Err(VocabError::Empty { file });
    }
    let mut index = HashMap::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        if index.insert(t.clone(), i as u32).is_some() {
            return Err(VocabError::Duplicate { file, line: i + 1, token: t.clone() });
        }
    }
    Ok((tokens, index))
}

fn need(file: &'static str, index: &HashMap<String, u32>, token: &str) -> Result<u32, VocabError> {
    index.get(token).copied().ok_or_else(|| VocabError::Missing { file, token: token.into() })
}

/// DNA: ids of `dna_vocab_list.txt`, and the one-hot channel (A, C, G, T) of each id.
#[derive(Debug, Clone)]
pub struct DnaTokenizer {
    /// `byte -> channel` (0..4) or 255 for "all zeros".
    channel: [u8; 256],
}

impl DnaTokenizer {
    pub const FILE: &'static str = "dna_vocab_list.txt";

    pub fn from_vocab(text: &str) -> Result<Self, VocabError> {
        let (_, index) = parse_vocab(Self::FILE, text)?;
        let mut channel = [255u8; 256];
        for (c, letter) in ["A", "C", "G", "T"].iter().enumerate() {
            need(Self::FILE, &index, letter)?;
            let b = letter.as_bytes()[0];
            channel[b as usize] = c as u8;
            channel[b.to_ascii_lowercase() as usize] = c as u8;
        }
        need(Self::FILE, &index, "N")?;
        Ok(Self { channel })
    }

    /// One-hot (length × 4, row-major, A C G T). Letters other than ACGT (any case) are all zero;
    /// characters that are not ASCII letters are an error.
    pub fn one_hot(&self, seq: &str) -> Result<Vec<f32>, TokenizeError> {
        let mut out = vec![0f32; seq.len() * 4];
        for (i, b) in seq.bytes().enumerate() {
            if !b.is_ascii_alphabetic() {
                return Err(TokenizeError::BadChar { kind: Modality::Dna, found: seq[i..].chars().next().unwrap_or('?'), position: i });
            }
            let c = self.channel[b as usize];
            if c != 255 {
                out[i * 4 + c as usize] = 1.0;
            }
        }
        Ok(out)
    }
}

/// NT-v2 6-mer tokenizer.
#[derive(Debug, Clone)]
pub struct RnaTokenizer {
    index: HashMap<String, u32>,
    pub cls: u32,
    pub pad: u32,
    pub unk: u32,
    n: u32,
    single: [u32; 4],
}

impl RnaTokenizer {
    pub const FILE: &'static str = "rna_vocab_list.txt";

    pub fn from_vocab(text: &str) -> Result<Self, VocabError> {
        let (_, index) = parse_vocab(Self::FILE, text)?;
        let single = [
            need(Self::FILE, &index, "A")?,
            need(Self::FILE, &index, "C")?,
            need(Self::FILE, &index, "G")?,
            need(Self::FILE, &index, "T")?,
        ];
        // every 6-mer must be there
        for code in 0..4096u32 {
            let kmer: String = (0..6).rev().map(|p| b"ACGT"[((code >> (2 * p)) & 3) as usize] as char).collect();
            need(Self::FILE, &index, &kmer)?;
        }
        Ok(Self {
            cls: need(Self::FILE, &index, "<cls>")?,
            pad: need(Self::FILE, &index, "<pad>")?,
            unk: need(Self::FILE, &index, "<unk>")?,
            n: need(Self::FILE, &index, "N")?,
            single,
            index,
        })
    }

    /// `<cls>` then the 6-mer tokens of `seq` (no `<eos>`).
    pub fn encode(&self, seq: &str) -> Result<Vec<u32>, TokenizeError> {
        let mut ids = Vec::with_capacity(seq.len() / 6 + 8);
        ids.push(self.cls);
        let mut run: Vec<u8> = Vec::with_capacity(6);
        let flush = |run: &mut Vec<u8>, ids: &mut Vec<u32>| {
            for b in run.drain(..) {
                ids.push(self.single[acgt(b).expect("run holds ACGT only") as usize]);
            }
        };
        for (i, raw) in seq.bytes().enumerate() {
            if !raw.is_ascii_alphabetic() {
                return Err(TokenizeError::BadChar { kind: Modality::Rna, found: seq[i..].chars().next().unwrap_or('?'), position: i });
            }
            let b = match raw.to_ascii_uppercase() {
                b'U' => b'T',
                b => b,
            };
            if acgt(b).is_some() {
                run.push(b);
                if run.len() == 6 {
                    let kmer = std::str::from_utf8(&run).expect("ascii");
                    ids.push(self.index[kmer]);
                    run.clear();
                }
            } else {
                flush(&mut run, &mut ids);
                ids.push(if b == b'N' { self.n } else { self.unk });
            }
        }
        flush(&mut run, &mut ids);
        Ok(ids)
    }
}

fn acgt(b: u8) -> Option<u8> {
    match b {
        b'A' => Some(0),
        b'C' => Some(1),
        b'G' => Some(2),
        b'T' => Some(3),
        _ => None,
    }
}

/// ESM-2 protein tokenizer.
#[derive(Debug, Clone)]
pub struct ProteinTokenizer {
    index: HashMap<String, u32>,
    /// Special tokens (`<...>`), longest first, for matching inside a sequence.
    specials: Vec<(String, u32)>,
    pub cls: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
    pub mask: u32,
}

impl ProteinTokenizer {
    pub const FILE: &'static str = "protein_vocab_list.txt";

    pub fn from_vocab(text: &str) -> Result<Self, VocabError> {
        let (tokens, index) = parse_vocab(Self::FILE, text)?;
        let mut specials: Vec<(String, u32)> =
            tokens.iter().filter(|t| t.len() > 1).map(|t| (t.clone(), index[t])).collect();
        specials.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Ok(Self {
            cls: need(Self::FILE, &index, "<cls>")?,
            eos: need(Self::FILE, &index, "<eos>")?,
            pad: need(Self::FILE, &index, "<pad>")?,
            unk: need(Self::FILE, &index, "<unk>")?,
            mask: need(Self::FILE, &index, "<mask>")?,
            specials,
            index,
        })
    }

    /// `<cls>` residues `<eos>`. Letters are upper-cased; unknown letters give `<unk>`.
    pub fn encode(&self, seq: &str) -> Result<Vec<u32>, TokenizeError> {
        let mut ids = Vec::with_capacity(seq.len() + 2);
        ids.push(self.cls);
        let bytes = seq.as_bytes();
        let mut i = 0;
        'outer: while i < bytes.len() {
            if bytes[i] == b'<' {
                for (tok, id) in &self.specials {
                    if seq[i..].starts_with(tok.as_str()) {
                        ids.push(*id);
                        i += tok.len();
                        continue 'outer;
                    }
                }
            }
            let b = bytes[i];
            let is_symbol = b == b'.' || b == b'-';
            if !(b.is_ascii_alphabetic() || is_symbol) {
                return Err(TokenizeError::BadChar { kind: Modality::Protein, found: seq[i..].chars().next().unwrap_or('?'), position: i });
            }
            let up = [b.to_ascii_uppercase()];
            let s = std::str::from_utf8(&up).expect("ascii");
            ids.push(self.index.get(s).copied().unwrap_or(self.unk));
            i += 1;
        }
        ids.push(self.eos);
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RNA_VOCAB: &str = include_str!("../../../models/rna_vocab_list.txt");
    const PROT_VOCAB: &str = include_str!("../../../models/protein_vocab_list.txt");
    const DNA_VOCAB: &str = include_str!("../../../models/dna_vocab_list.txt");

    #[test]
    fn rna_ids_follow_the_nt_v2_layout() {
        let t = RnaTokenizer::from_vocab(RNA_VOCAB).unwrap();
        // <cls>=3; AAAAAA is the first 6-mer (id 6); product("ATCG") order: T=1, C=2, G=3 per digit.
        assert_eq!(t.encode("AAAAAA").unwrap(), vec![3, 6]);
        assert_eq!(t.encode("AAAAAT").unwrap(), vec![3, 7]);
        // leftovers are single letters A 4102, T 4103, C 4104, G 4105; N 4106
        assert_eq!(t.encode("AAAAAATC").unwrap(), vec![3, 6, 4103, 4104]);
        assert_eq!(t.encode("ANg").unwrap(), vec![3, 4102, 4106, 4105]);
        assert_eq!(t.encode("uuuuuu").unwrap(), t.encode("TTTTTT").unwrap());
        assert_eq!(t.encode("").unwrap(), vec![3]);
        assert_eq!(t.encode("AR").unwrap(), vec![3, 4102, 0]);
        assert!(matches!(t.encode("AC GT"), Err(TokenizeError::BadChar { position: 2, .. })));
    }

    #[test]
    fn protein_ids() {
        let t = ProteinTokenizer::from_vocab(PROT_VOCAB).unwrap();
        assert_eq!(t.encode("LA").unwrap(), vec![0, 4, 5, 2]);
        assert_eq!(t.encode("l<mask>a").unwrap(), vec![0, 4, 32, 5, 2]);
        assert_eq!(t.encode("").unwrap(), vec![0, 2]);
        assert!(t.encode("MK*").is_err());
    }

    #[test]
    fn dna_one_hot() {
        let t = DnaTokenizer::from_vocab(DNA_VOCAB).unwrap();
        let v = t.one_hot("AcgTNr").unwrap();
        assert_eq!(
            v,
            vec![1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0., 0., 0., 0.]
        );
        assert!(t.one_hot("AC-G").is_err());
    }

    #[test]
    fn broken_vocab_files_are_named() {
        let err = RnaTokenizer::from_vocab("<cls>\nA\n").unwrap_err();
        assert!(err.to_string().starts_with("rna_vocab_list.txt: token"), "{err}");
        let err = ProteinTokenizer::from_vocab("<cls>\n<cls>\n").unwrap_err();
        assert_eq!(err.to_string(), "protein_vocab_list.txt: line 2: token \"<cls>\" appears twice");
    }
}
