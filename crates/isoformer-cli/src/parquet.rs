//! `predict --format parquet`: the predictions as one Parquet row group, written with the
//! `parquet` crate's low-level writer (no Arrow): `transcript_id` and `gene_id` as UTF-8 byte
//! arrays, then one `FLOAT` column per output, named as in the TSV header; every column required.
//! Uncompressed: the table is mostly 32-bit floats that general-purpose codecs barely shrink,
//! and every Parquet reader reads it without a codec.

use std::sync::Arc;

use anyhow::{Context, Result};
use parquet::basic::{LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, FloatType};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

/// The Parquet file's bytes for `rows` of `(transcript_id, gene_id, values)`; `names` are the
/// value columns.
pub fn predictions(rows: &[(&str, &str, &[f32])], names: &[String]) -> Result<Vec<u8>> {
    write(rows, names).context("writing Parquet")
}

fn write(rows: &[(&str, &str, &[f32])], names: &[String]) -> parquet::errors::Result<Vec<u8>> {
    let text = |name: &str| {
        Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY).with_repetition(Repetition::REQUIRED).with_logical_type(Some(LogicalType::String)).build().map(Arc::new)
    };
    let mut fields = vec![text("transcript_id")?, text("gene_id")?];
    for n in names {
        fields.push(Arc::new(Type::primitive_type_builder(n, PhysicalType::FLOAT).with_repetition(Repetition::REQUIRED).build()?));
    }
    let schema = Arc::new(Type::group_type_builder("predictions").with_fields(fields).build()?);
    let props = Arc::new(WriterProperties::builder().set_created_by(format!("isoformer {}", env!("CARGO_PKG_VERSION"))).build());
    let mut bytes = Vec::new();
    let mut writer = SerializedFileWriter::new(&mut bytes, schema, props)?;
    let mut group = writer.next_row_group()?;
    for k in 0..2 {
        let values: Vec<ByteArray> = rows.iter().map(|r| ByteArray::from(if k == 0 { r.0 } else { r.1 })).collect();
        let mut column = group.next_column()?.expect("a column per schema field");
        column.typed::<ByteArrayType>().write_batch(&values, None, None)?;
        column.close()?;
    }
    for j in 0..names.len() {
        let values: Vec<f32> = rows.iter().map(|r| r.2[j]).collect();
        let mut column = group.next_column()?.expect("a column per schema field");
        column.typed::<FloatType>().write_batch(&values, None, None)?;
        column.close()?;
    }
    group.close()?;
    writer.close()?;
    Ok(bytes)
}
