//! `prepare`'s output rows: the writer beside the reader ([`crate::input`]), one column list
//! ([`crate::columns::PREPARED`]).

use std::io::{self, Write};

use isoformer_bio::transcript::{Prepared, Transcript};

use crate::columns::PREPARED;

/// The header line.
pub fn write_header(w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "{}", PREPARED.join("\t"))
}

/// One transcript's row: ids, position (the TSS 1-based), the three sequences and the flags.
pub fn write_row(w: &mut dyn Write, t: &Transcript, p: &Prepared) -> io::Result<()> {
    let tss = (t.tss() + 1).to_string();
    let strand = t.strand.symbol().to_string();
    let flags = p.flags.join(",");
    let fields: [&str; 10] = [&t.transcript_id, &t.gene_id, &t.gene_name, &t.seq, &strand, &tss, &p.dna, &p.rna, &p.protein, &flags];
    writeln!(w, "{}", fields.join("\t"))
}
