//! Which Python globals a pickle references, found without running it.
//!
//! Unpickling calls whatever a `GLOBAL`/`STACK_GLOBAL`/`INST` names (`os.system`, `builtins.exec`,
//! ...). A checkpoint only needs the tensor-rebuilding functions torch writes, so before any
//! tensor is read the whole pickle is walked opcode by opcode (a disassembler keeping a shadow
//! stack of which items are literal strings, to resolve `STACK_GLOBAL` operands; nothing is
//! constructed), and any global outside [`ALLOWED`] refuses the file, naming it.

/// Globals a PyTorch state-dict checkpoint legitimately references.
pub const ALLOWED: &[(&str, &str)] = &[
    ("collections", "OrderedDict"),
    ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_tensor_v3"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("torch", "FloatStorage"),
    ("torch", "DoubleStorage"),
    ("torch", "HalfStorage"),
    ("torch", "BFloat16Storage"),
    ("torch", "LongStorage"),
    ("torch", "IntStorage"),
    ("torch", "ShortStorage"),
    ("torch", "CharStorage"),
    ("torch", "ByteStorage"),
    ("torch", "BoolStorage"),
    ("torch", "UntypedStorage"),
    ("torch", "float32"),
    ("torch", "float64"),
    ("torch", "float16"),
    ("torch", "bfloat16"),
    ("torch", "int64"),
    ("torch", "int32"),
    ("torch", "int16"),
    ("torch", "int8"),
    ("torch", "uint8"),
    ("torch", "bool"),
];

/// Why a pickle is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("references the Python global `{module}.{name}`, which a checkpoint never needs (only torch's tensor-rebuilding functions are allowed); refusing to read it")]
    Forbidden { module: String, name: String },
    #[error("uses the pickle extension registry (opcode 0x{0:02x}); refusing to read it")]
    Extension(u8),
    #[error("STACK_GLOBAL at byte {0} names a global through values that are not literal strings; refusing to read it")]
    OpaqueGlobal(usize),
    #[error("pickle ends at byte {0} before its STOP opcode (truncated file?)")]
    Truncated(usize),
    #[error("byte {offset}: 0x{op:02x} is not a pickle opcode")]
    BadOpcode { offset: usize, op: u8 },
    #[error("byte {0}: malformed pickle ({1})")]
    Malformed(usize, &'static str),
}

#[derive(Clone, Debug, PartialEq)]
enum Item {
    Mark,
    Str(String),
    Other,
}

/// Walk one pickle starting at `data[0]`; returns the globals it references and the offset just
/// past its STOP opcode. Every global must be in [`ALLOWED`].
pub fn scan(data: &[u8]) -> Result<(Vec<(String, String)>, usize), ScanError> {
    let mut pos = 0usize;
    let mut stack: Vec<Item> = Vec::new();
    let mut memo: std::collections::HashMap<u64, Item> = std::collections::HashMap::new();
    let mut globals = Vec::new();
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], ScanError> {
        let end = pos.checked_add(n).filter(|&e| e <= data.len()).ok_or(ScanError::Truncated(data.len()))?;
        let s = &data[*pos..end];
        *pos = end;
        Ok(s)
    };
    fn le(b: &[u8]) -> u64 {
        b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64)
    }
    let line = |pos: &mut usize| -> Result<String, ScanError> {
        let rest = &data[*pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or(ScanError::Truncated(data.len()))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        *pos += n + 1;
        Ok(s)
    };
    let pop_mark = |stack: &mut Vec<Item>, at: usize| -> Result<(), ScanError> {
        let m = stack.iter().rposition(|i| *i == Item::Mark).ok_or(ScanError::Malformed(at, "no MARK"))?;
        stack.truncate(m);
        Ok(())
    };
    let pop = |stack: &mut Vec<Item>, n: usize, at: usize| -> Result<Vec<Item>, ScanError> {
        if stack.len() < n {
            return Err(ScanError::Malformed(at, "stack underflow"));
        }
        Ok(stack.split_off(stack.len() - n))
    };
    let check = |module: String, name: String, globals: &mut Vec<(String, String)>| -> Result<(), ScanError> {
        if !ALLOWED.iter().any(|(m, n)| *m == module && *n == name) {
            return Err(ScanError::Forbidden { module, name });
        }
        globals.push((module, name));
        Ok(())
    };
    loop {
        let at = pos;
        let op = *data.get(pos).ok_or(ScanError::Truncated(data.len()))?;
        pos += 1;
        match op {
            b'.' => return Ok((globals, pos)),
            b'(' => stack.push(Item::Mark),
            b'0' => {
                pop(&mut stack, 1, at)?;
            }
            b'1' => pop_mark(&mut stack, at)?,
            b'2' => {
                let top = stack.last().cloned().ok_or(ScanError::Malformed(at, "DUP on empty stack"))?;
                stack.push(top);
            }
            // literals read as lines
            b'F' | b'I' | b'L' => {
                line(&mut pos)?;
                stack.push(Item::Other);
            }
            b'S' => {
                let s = line(&mut pos)?;
                stack.push(Item::Str(s.trim_matches(|c| c == '\'' || c == '"').to_string()));
            }
            b'V' => {
                let s = line(&mut pos)?;
                stack.push(Item::Str(s));
            }
            b'J' => {
                take(&mut pos, 4)?;
                stack.push(Item::Other);
            }
            b'K' => {
                take(&mut pos, 1)?;
                stack.push(Item::Other);
            }
            b'M' => {
                take(&mut pos, 2)?;
                stack.push(Item::Other);
            }
            b'G' => {
                take(&mut pos, 8)?;
                stack.push(Item::Other);
            }
            b'N' | 0x88 | 0x89 | b'}' | b']' | b')' | 0x8f => stack.push(Item::Other),
            // length-prefixed strings and bytes
            b'T' | b'X' | b'B' | b'U' | b'C' | 0x8c | 0x8d | 0x8e | 0x96 | 0x8a | 0x8b => {
                let width = match op {
                    b'T' | b'X' | b'B' | 0x8b => 4,
                    b'U' | b'C' | 0x8c | 0x8a => 1,
                    _ => 8,
                };
                let n = le(take(&mut pos, width)?) as usize;
                let bytes = take(&mut pos, n)?;
                let text = matches!(op, b'X' | 0x8c | 0x8d | b'T' | b'U');
                stack.push(if text { Item::Str(String::from_utf8_lossy(bytes).into_owned()) } else { Item::Other });
            }
            b'P' => {
                line(&mut pos)?;
                stack.push(Item::Other);
            }
            b'Q' => {
                pop(&mut stack, 1, at)?;
                stack.push(Item::Other);
            }
            b'R' => {
                pop(&mut stack, 2, at)?;
                stack.push(Item::Other);
            }
            b'a' => {
                pop(&mut stack, 1, at)?;
            }
            b'b' => {
                pop(&mut stack, 1, at)?;
            }
            b'c' => {
                let module = line(&mut pos)?;
                let name = line(&mut pos)?;
                check(module, name, &mut globals)?;
                stack.push(Item::Other);
            }
            b'i' => {
                let module = line(&mut pos)?;
                let name = line(&mut pos)?;
                check(module, name, &mut globals)?;
                pop_mark(&mut stack, at)?;
                stack.push(Item::Other);
            }
            0x93 => {
                let ops = pop(&mut stack, 2, at)?;
                match (&ops[0], &ops[1]) {
                    (Item::Str(m), Item::Str(n)) => check(m.clone(), n.clone(), &mut globals)?,
                    _ => return Err(ScanError::OpaqueGlobal(at)),
                }
                stack.push(Item::Other);
            }
            b'd' | b'l' | b't' | b'o' | 0x91 => {
                pop_mark(&mut stack, at)?;
                stack.push(Item::Other);
            }
            b'e' | b'u' | 0x90 => pop_mark(&mut stack, at)?,
            b's' => {
                pop(&mut stack, 2, at)?;
            }
            0x85 | 0x86 | 0x87 => {
                pop(&mut stack, (op - 0x84) as usize, at)?;
                stack.push(Item::Other);
            }
            0x81 => {
                pop(&mut stack, 2, at)?;
                stack.push(Item::Other);
            }
            0x92 => {
                pop(&mut stack, 3, at)?;
                stack.push(Item::Other);
            }
            // memo
            b'p' => {
                let k: u64 = line(&mut pos)?.trim().parse().map_err(|_| ScanError::Malformed(at, "PUT index"))?;
                memo.insert(k, stack.last().cloned().unwrap_or(Item::Other));
            }
            b'q' | b'r' => {
                let k = le(take(&mut pos, if op == b'q' { 1 } else { 4 })?);
                memo.insert(k, stack.last().cloned().unwrap_or(Item::Other));
            }
            0x94 => {
                let k = memo.len() as u64;
                memo.insert(k, stack.last().cloned().unwrap_or(Item::Other));
            }
            b'g' => {
                let k: u64 = line(&mut pos)?.trim().parse().map_err(|_| ScanError::Malformed(at, "GET index"))?;
                stack.push(memo.get(&k).cloned().ok_or(ScanError::Malformed(at, "GET of an unset memo"))?);
            }
            b'h' | b'j' => {
                let k = le(take(&mut pos, if op == b'h' { 1 } else { 4 })?);
                stack.push(memo.get(&k).cloned().ok_or(ScanError::Malformed(at, "GET of an unset memo"))?);
            }
            // framing and protocol
            0x80 => {
                take(&mut pos, 1)?;
            }
            0x95 => {
                take(&mut pos, 8)?;
            }
            0x97 | 0x98 => return Err(ScanError::Malformed(at, "out-of-band buffers")),
            0x82..=0x84 => return Err(ScanError::Extension(op)),
            _ => return Err(ScanError::BadOpcode { offset: at, op }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_global_through_memo_is_resolved() {
        // PROTO 4, 'builtins' MEMOIZE 'exec' MEMOIZE STACK_GLOBAL ...
        let p = b"\x80\x04\x8c\x08builtins\x94\x8c\x04exec\x94\x93\x94.";
        assert_eq!(scan(p).unwrap_err(), ScanError::Forbidden { module: "builtins".into(), name: "exec".into() });
        let p = b"\x80\x04\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R.";
        assert_eq!(scan(p).unwrap().0, vec![("collections".into(), "OrderedDict".into())]);
    }

    #[test]
    fn operands_hidden_behind_pop_mark_are_seen() {
        // 'os' 'system' MARK 'collections' 'OrderedDict' POP_MARK STACK_GLOBAL
        let p = b"\x80\x04\x8c\x02os\x8c\x06system(\x8c\x0bcollections\x8c\x0bOrderedDict1\x93.";
        assert_eq!(scan(p).unwrap_err(), ScanError::Forbidden { module: "os".into(), name: "system".into() });
    }

    #[test]
    fn protocol_2_global_and_inst() {
        assert!(matches!(scan(b"\x80\x02cposix\nsystem\nq\x00."), Err(ScanError::Forbidden { .. })));
        assert!(matches!(scan(b"(ios\nsystem\n."), Err(ScanError::Forbidden { .. })));
        assert!(matches!(scan(b"\x80\x02\x82\x01."), Err(ScanError::Extension(0x82))));
        assert!(matches!(scan(b"\x80\x02}q\x00"), Err(ScanError::Truncated(_))));
        assert!(matches!(scan(b"\x80\x02\xff"), Err(ScanError::BadOpcode { op: 0xff, .. })));
    }
}
