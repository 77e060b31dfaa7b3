//! Which Python globals a pickle references, found without running it.
//!
//! Unpickling calls whatever a `GLOBAL`/`STACK_GLOBAL`/`INST` names (`os.system`, `builtins.exec`,
//! ...). A checkpoint only needs the tensor-rebuilding functions torch writes, so before any
//! tensor is read the whole pickle is walked opcode by opcode (a disassembler keeping a shadow
//! stack of which items are literal strings, to resolve `STACK_GLOBAL` operands; nothing is
//! constructed), and any global outside [`ALLOWED`] refuses the file, naming it.

use std::collections::HashMap;

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

macro_rules! opcodes {
    ($($name:ident = $byte:literal,)*) => {
        /// The opcodes of pickle protocols 0 to 5, named as CPython's `pickletools` names them.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        enum OpCode {
            $($name = $byte,)*
        }

        impl TryFrom<u8> for OpCode {
            type Error = u8;
            fn try_from(byte: u8) -> Result<Self, u8> {
                match byte {
                    $($byte => Ok(OpCode::$name),)*
                    _ => Err(byte),
                }
            }
        }
    };
}

opcodes! {
    Mark = b'(',
    Stop = b'.',
    Pop = b'0',
    PopMark = b'1',
    Dup = b'2',
    Float = b'F',
    Int = b'I',
    BinInt = b'J',
    BinInt1 = b'K',
    Long = b'L',
    BinInt2 = b'M',
    None = b'N',
    PersId = b'P',
    BinPersId = b'Q',
    Reduce = b'R',
    String = b'S',
    BinString = b'T',
    ShortBinString = b'U',
    Unicode = b'V',
    BinUnicode = b'X',
    Append = b'a',
    Build = b'b',
    Global = b'c',
    Dict = b'd',
    EmptyDict = b'}',
    Appends = b'e',
    Get = b'g',
    BinGet = b'h',
    Inst = b'i',
    LongBinGet = b'j',
    List = b'l',
    EmptyList = b']',
    Obj = b'o',
    Put = b'p',
    BinPut = b'q',
    LongBinPut = b'r',
    SetItem = b's',
    Tuple = b't',
    EmptyTuple = b')',
    SetItems = b'u',
    BinFloat = b'G',
    Proto = 0x80,
    NewObj = 0x81,
    Ext1 = 0x82,
    Ext2 = 0x83,
    Ext4 = 0x84,
    Tuple1 = 0x85,
    Tuple2 = 0x86,
    Tuple3 = 0x87,
    NewTrue = 0x88,
    NewFalse = 0x89,
    Long1 = 0x8a,
    Long4 = 0x8b,
    BinBytes = b'B',
    ShortBinBytes = b'C',
    ShortBinUnicode = 0x8c,
    BinUnicode8 = 0x8d,
    BinBytes8 = 0x8e,
    EmptySet = 0x8f,
    AddItems = 0x90,
    FrozenSet = 0x91,
    NewObjEx = 0x92,
    StackGlobal = 0x93,
    Memoize = 0x94,
    Frame = 0x95,
    ByteArray8 = 0x96,
    NextBuffer = 0x97,
    ReadOnlyBuffer = 0x98,
}

/// What the shadow stack knows of an item: only literal strings matter (`STACK_GLOBAL` operands).
#[derive(Clone, Debug, PartialEq)]
enum Item {
    Mark,
    Str(String),
    Other,
}

/// What a building opcode takes off the stack.
enum Operands {
    /// Everything down to the topmost MARK, and the MARK.
    ToMark,
    Count(usize),
}

/// Walk one pickle starting at `data[0]`; returns the globals it references and the offset just
/// past its STOP opcode. Every global must be in [`ALLOWED`].
pub fn scan(data: &[u8]) -> Result<(Vec<(String, String)>, usize), ScanError> {
    let mut scanner = Scanner { data, pos: 0, at: 0, stack: Vec::new(), memo: HashMap::new(), globals: Vec::new() };
    while scanner.step()? {}
    Ok((scanner.globals, scanner.pos))
}

/// One pickle being walked, with a shadow of the unpickler's stack and memo.
struct Scanner<'a> {
    data: &'a [u8],
    /// Offset of the next byte to read.
    pos: usize,
    /// Offset of the opcode being handled, for errors.
    at: usize,
    stack: Vec<Item>,
    memo: HashMap<u64, Item>,
    globals: Vec<(String, String)>,
}

impl<'a> Scanner<'a> {
    /// Handle the next opcode; false once it was STOP.
    fn step(&mut self) -> Result<bool, ScanError> {
        use OpCode as O;
        let op = self.opcode()?;
        match op {
            O::Stop => return Ok(false),
            O::Mark | O::Pop | O::PopMark | O::Dup => self.stack_op(op)?,
            O::String | O::Unicode | O::Float | O::Int | O::Long | O::PersId
            | O::BinInt | O::BinInt1 | O::BinInt2 | O::BinFloat
            | O::None | O::NewTrue | O::NewFalse | O::EmptyDict | O::EmptyList | O::EmptyTuple | O::EmptySet
            | O::BinString | O::BinUnicode | O::BinBytes | O::ShortBinString | O::ShortBinBytes
            | O::ShortBinUnicode | O::BinUnicode8 | O::BinBytes8 | O::ByteArray8 | O::Long1 | O::Long4 => {
                self.literal(op)?
            }
            O::Global | O::Inst | O::StackGlobal => self.global(op)?,
            O::BinPersId | O::Reduce | O::Append | O::Build | O::SetItem | O::NewObj | O::NewObjEx
            | O::Dict | O::List | O::Tuple | O::Obj | O::FrozenSet | O::Appends | O::SetItems | O::AddItems
            | O::Tuple1 | O::Tuple2 | O::Tuple3 => self.build(op)?,
            O::Put | O::BinPut | O::LongBinPut | O::Memoize => self.memo_put(op)?,
            O::Get | O::BinGet | O::LongBinGet => self.memo_get(op)?,
            O::Proto | O::Frame | O::NextBuffer | O::ReadOnlyBuffer | O::Ext1 | O::Ext2 | O::Ext4 => self.framing(op)?,
        }
        Ok(true)
    }

    fn opcode(&mut self) -> Result<OpCode, ScanError> {
        self.at = self.pos;
        let byte = *self.data.get(self.pos).ok_or(ScanError::Truncated(self.data.len()))?;
        self.pos += 1;
        OpCode::try_from(byte).map_err(|op| ScanError::BadOpcode { offset: self.at, op })
    }

    /// MARK, POP, POP_MARK, DUP.
    fn stack_op(&mut self, op: OpCode) -> Result<(), ScanError> {
        match op {
            OpCode::Mark => self.stack.push(Item::Mark),
            OpCode::Pop => {
                self.pop(1)?;
            }
            OpCode::PopMark => self.pop_mark()?,
            _ => {
                let top = self.stack.last().cloned().ok_or_else(|| self.malformed("DUP on empty stack"))?;
                self.stack.push(top);
            }
        }
        Ok(())
    }

    /// Opcodes that push one value read from the stream; only strings are remembered as such.
    fn literal(&mut self, op: OpCode) -> Result<(), ScanError> {
        use OpCode as O;
        let item = match op {
            O::String => Item::Str(self.line()?.trim_matches(['\'', '"']).to_string()),
            O::Unicode => Item::Str(self.line()?),
            O::Float | O::Int | O::Long | O::PersId => self.line().map(|_| Item::Other)?,
            O::BinInt1 => self.take(1).map(|_| Item::Other)?,
            O::BinInt2 => self.take(2).map(|_| Item::Other)?,
            O::BinInt => self.take(4).map(|_| Item::Other)?,
            O::BinFloat => self.take(8).map(|_| Item::Other)?,
            O::None | O::NewTrue | O::NewFalse | O::EmptyDict | O::EmptyList | O::EmptyTuple | O::EmptySet => Item::Other,
            _ => self.counted(op)?,
        };
        self.stack.push(item);
        Ok(())
    }

    /// A string, bytes or long whose byte count comes first (little-endian); text is kept.
    fn counted(&mut self, op: OpCode) -> Result<Item, ScanError> {
        use OpCode as O;
        let (width, text) = match op {
            O::ShortBinString | O::ShortBinUnicode => (1, true),
            O::ShortBinBytes | O::Long1 => (1, false),
            O::BinString | O::BinUnicode => (4, true),
            O::BinBytes | O::Long4 => (4, false),
            O::BinUnicode8 => (8, true),
            _ => (8, false),
        };
        let n = self.uint(width)? as usize;
        let bytes = self.take(n)?;
        Ok(if text { Item::Str(String::from_utf8_lossy(bytes).into_owned()) } else { Item::Other })
    }

    /// GLOBAL and INST name theirs in the stream, STACK_GLOBAL takes two strings off the stack.
    fn global(&mut self, op: OpCode) -> Result<(), ScanError> {
        if op == OpCode::StackGlobal {
            match &self.pop(2)?[..] {
                [Item::Str(module), Item::Str(name)] => self.allow(module.clone(), name.clone())?,
                _ => return Err(ScanError::OpaqueGlobal(self.at)),
            }
        } else {
            let module = self.line()?;
            let name = self.line()?;
            self.allow(module, name)?;
            if op == OpCode::Inst {
                self.pop_mark()?;
            }
        }
        self.stack.push(Item::Other);
        Ok(())
    }

    /// Opcodes that build or fill objects from what is on the stack; some push the result.
    fn build(&mut self, op: OpCode) -> Result<(), ScanError> {
        use OpCode as O;
        let (operands, pushes) = match op {
            O::Dict | O::List | O::Tuple | O::Obj | O::FrozenSet => (Operands::ToMark, true),
            O::Appends | O::SetItems | O::AddItems => (Operands::ToMark, false),
            O::BinPersId | O::Tuple1 => (Operands::Count(1), true),
            O::Reduce | O::NewObj | O::Tuple2 => (Operands::Count(2), true),
            O::NewObjEx | O::Tuple3 => (Operands::Count(3), true),
            O::Append | O::Build => (Operands::Count(1), false),
            _ => (Operands::Count(2), false),
        };
        match operands {
            Operands::ToMark => self.pop_mark()?,
            Operands::Count(n) => {
                self.pop(n)?;
            }
        }
        if pushes {
            self.stack.push(Item::Other);
        }
        Ok(())
    }

    /// PUT, BINPUT, LONG_BINPUT, MEMOIZE: remember the top of the stack.
    fn memo_put(&mut self, op: OpCode) -> Result<(), ScanError> {
        let key = match op {
            OpCode::Put => self.decimal("PUT index")?,
            OpCode::BinPut => self.uint(1)?,
            OpCode::LongBinPut => self.uint(4)?,
            _ => self.memo.len() as u64,
        };
        self.memo.insert(key, self.stack.last().cloned().unwrap_or(Item::Other));
        Ok(())
    }

    /// GET, BINGET, LONG_BINGET.
    fn memo_get(&mut self, op: OpCode) -> Result<(), ScanError> {
        let key = match op {
            OpCode::Get => self.decimal("GET index")?,
            OpCode::BinGet => self.uint(1)?,
            _ => self.uint(4)?,
        };
        let item = self.memo.get(&key).cloned().ok_or_else(|| self.malformed("GET of an unset memo"))?;
        self.stack.push(item);
        Ok(())
    }

    /// Protocol and framing are skipped; out-of-band buffers and the extension registry refused.
    fn framing(&mut self, op: OpCode) -> Result<(), ScanError> {
        match op {
            OpCode::Proto => self.take(1).map(drop),
            OpCode::Frame => self.take(8).map(drop),
            OpCode::NextBuffer | OpCode::ReadOnlyBuffer => Err(self.malformed("out-of-band buffers")),
            _ => Err(ScanError::Extension(op as u8)),
        }
    }

    fn allow(&mut self, module: String, name: String) -> Result<(), ScanError> {
        if !ALLOWED.iter().any(|(m, n)| *m == module && *n == name) {
            return Err(ScanError::Forbidden { module, name });
        }
        self.globals.push((module, name));
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ScanError> {
        let data = self.data;
        let end = self.pos.checked_add(n).filter(|&e| e <= data.len()).ok_or(ScanError::Truncated(data.len()))?;
        let bytes = &data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    /// A little-endian unsigned integer of `width` bytes.
    fn uint(&mut self, width: usize) -> Result<u64, ScanError> {
        Ok(self.take(width)?.iter().rev().fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    /// The text up to the next newline (protocol 0 operands), newline consumed.
    fn line(&mut self) -> Result<String, ScanError> {
        let rest = &self.data[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or(ScanError::Truncated(self.data.len()))?;
        self.pos += n + 1;
        Ok(String::from_utf8_lossy(&rest[..n]).into_owned())
    }

    fn decimal(&mut self, what: &'static str) -> Result<u64, ScanError> {
        self.line()?.trim().parse().map_err(|_| self.malformed(what))
    }

    fn pop(&mut self, n: usize) -> Result<Vec<Item>, ScanError> {
        if self.stack.len() < n {
            return Err(self.malformed("stack underflow"));
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn pop_mark(&mut self) -> Result<(), ScanError> {
        let mark = self.stack.iter().rposition(|i| *i == Item::Mark).ok_or_else(|| self.malformed("no MARK"))?;
        self.stack.truncate(mark);
        Ok(())
    }

    fn malformed(&self, why: &'static str) -> ScanError {
        ScanError::Malformed(self.at, why)
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

    #[test]
    fn every_opcode_byte_names_its_opcode() {
        let known: Vec<u8> = (0..=255u8).filter(|&b| OpCode::try_from(b).is_ok_and(|op| op as u8 == b)).collect();
        assert_eq!(known.len(), 68, "protocols 0-5 define 68 opcodes");
        assert!((0..=255u8).all(|b| OpCode::try_from(b).is_err() || known.contains(&b)));
    }
}
