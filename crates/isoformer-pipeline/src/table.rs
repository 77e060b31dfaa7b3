//! The prediction table: one row per transcript, one column per model output, named and scaled
//! as the model says. The CLI writes it as TSV or Parquet, the page shows and downloads the TSV:
//! the same bytes.

use isoformer_model::TISSUES;

/// One transcript's predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionRow {
    pub transcript_id: String,
    /// Empty when unknown.
    pub gene_id: String,
    /// One value per output, in the model's order.
    pub values: Vec<f32>,
}

/// Predictions in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct PredictionTable {
    /// Output names: the model config's `isoformer_output_names`, the 30 GTEx tissues for the
    /// official head, `output_N` otherwise.
    pub outputs: Vec<String>,
    /// Whether the table has a `gene_id` column (the input had one, or was FASTA).
    pub has_gene: bool,
    pub rows: Vec<PredictionRow>,
}

/// What the values measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    /// The official head's 30 GTEx tissues: log(TPM + 1).
    LogTpm,
    /// Anything else (a model trained on other targets): the values are in its targets' units,
    /// named by its output columns.
    OutputNames,
}

impl Units {
    /// A legend suffix: ` log(TPM+1)` or nothing.
    pub fn legend(self) -> &'static str {
        match self {
            Units::LogTpm => " log(TPM+1)",
            Units::OutputNames => "",
        }
    }

    /// One sentence for a results page.
    pub fn sentence(self) -> &'static str {
        match self {
            Units::LogTpm => "Predicted log(TPM+1) per tissue.",
            Units::OutputNames => "Predicted values of the model's outputs (its own units: see the column names and the model card).",
        }
    }
}

impl PredictionTable {
    /// The official 30 tissue names mean log(TPM+1); other names carry their own units.
    pub fn units(&self) -> Units {
        if self.outputs.iter().map(String::as_str).eq(TISSUES) { Units::LogTpm } else { Units::OutputNames }
    }

    /// `transcript_id` (`gene_id` when the table has it), then one column per output, values
    /// with 6 decimals.
    pub fn to_tsv(&self) -> String {
        let mut text = String::from(if self.has_gene { "transcript_id\tgene_id" } else { "transcript_id" });
        for n in &self.outputs {
            text.push('\t');
            text.push_str(n);
        }
        text.push('\n');
        for row in &self.rows {
            text.push_str(&row.transcript_id);
            if self.has_gene {
                text.push('\t');
                text.push_str(&row.gene_id);
            }
            for v in &row.values {
                text.push_str(&format!("\t{v:.6}"));
            }
            text.push('\n');
        }
        text
    }

    /// The Parquet file's bytes (see [`crate::table::parquet`]).
    #[cfg(feature = "parquet")]
    pub fn to_parquet(&self) -> Result<Vec<u8>, ::parquet::errors::ParquetError> {
        parquet::write(self, &[])
    }

    /// The Parquet file with key-value metadata (provenance: [`crate::provenance::PARQUET_KEY`]).
    #[cfg(feature = "parquet")]
    pub fn to_parquet_with(&self, metadata: &[(&str, String)]) -> Result<Vec<u8>, ::parquet::errors::ParquetError> {
        parquet::write(self, metadata)
    }
}

/// The predictions as one Parquet row group, written with the `parquet` crate's low-level writer
/// (no Arrow): `transcript_id` and `gene_id` as UTF-8 byte arrays (`gene_id` empty when unknown),
/// then one `FLOAT` column per output, named as in the TSV header, the model's f32 values
/// unrounded; every column required. Uncompressed: the table is mostly 32-bit floats that
/// general-purpose codecs barely shrink, and every Parquet reader reads it without a codec.
#[cfg(feature = "parquet")]
pub mod parquet {
    use std::sync::Arc;

    use parquet::basic::{LogicalType, Repetition, Type as PhysicalType};
    use parquet::data_type::{ByteArray, ByteArrayType, FloatType, Int64Type};
    use parquet::errors::Result;
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::types::Type;

    use super::PredictionTable;

    pub fn write(table: &PredictionTable, metadata: &[(&str, String)]) -> Result<Vec<u8>> {
        let mut columns = vec![
            Column::Text("transcript_id".into(), table.rows.iter().map(|r| r.transcript_id.as_str()).collect()),
            Column::Text("gene_id".into(), table.rows.iter().map(|r| r.gene_id.as_str()).collect()),
        ];
        for (j, n) in table.outputs.iter().enumerate() {
            columns.push(Column::Float(n.clone(), table.rows.iter().map(|r| r.values[j]).collect()));
        }
        write_columns("predictions", columns, metadata)
    }

    /// One required column of a table written by [`write_columns`].
    pub enum Column<'a> {
        /// UTF-8 byte arrays.
        Text(String, Vec<&'a str>),
        /// `INT64`.
        Int(String, Vec<i64>),
        /// `FLOAT`.
        Float(String, Vec<f32>),
    }

    /// A column read back by [`read_columns`].
    #[derive(Debug, Clone, PartialEq)]
    pub enum Values {
        Text(Vec<String>),
        Int(Vec<i64>),
        Float(Vec<f32>),
    }

    impl Values {
        /// One column of several tables of one layout (`parts`, the column of each), the rows
        /// `(table, row)` of `order` in that order, as a column named `name` for [`write_columns`].
        pub fn gather<'a>(name: &str, parts: &[&'a Values], order: &[(usize, usize)]) -> Column<'a> {
            const ONE_LAYOUT: &str = "tables of one layout";
            match parts[0] {
                Values::Text(_) => Column::Text(name.into(), order.iter().map(|&(t, r)| if let Values::Text(v) = parts[t] { v[r].as_str() } else { panic!("{ONE_LAYOUT}") }).collect()),
                Values::Int(_) => Column::Int(name.into(), order.iter().map(|&(t, r)| if let Values::Int(v) = parts[t] { v[r] } else { panic!("{ONE_LAYOUT}") }).collect()),
                Values::Float(_) => Column::Float(name.into(), order.iter().map(|&(t, r)| if let Values::Float(v) = parts[t] { v[r] } else { panic!("{ONE_LAYOUT}") }).collect()),
            }
        }

        fn kind(&self) -> &'static str {
            match self {
                Values::Text(_) => "text",
                Values::Int(_) => "INT64",
                Values::Float(_) => "FLOAT",
            }
        }
    }

    /// A table as [`write_columns`] writes it, read back whole.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Table {
        /// The schema's name (`predictions`, `variant_scores`).
        pub schema: String,
        pub columns: Vec<(String, Values)>,
        /// The file's key-value metadata.
        pub metadata: Vec<(String, Option<String>)>,
        pub rows: usize,
    }

    impl Table {
        /// Name, type and order of the columns (what two tables must share to be concatenated).
        pub fn layout(&self) -> Vec<(String, &'static str)> {
            self.columns.iter().map(|(n, v)| (n.clone(), v.kind())).collect()
        }
    }

    /// Read a Parquet file of required text, `INT64` and `FLOAT` columns (what [`write_columns`]
    /// writes); any other column type is an error naming it.
    pub fn read_columns(file: std::fs::File) -> Result<Table> {
        use parquet::errors::ParquetError;
        use parquet::file::reader::{FileReader, SerializedFileReader};
        use parquet::record::RowAccessor;

        let reader = SerializedFileReader::new(file)?;
        let meta = reader.metadata().file_metadata();
        let metadata = meta.key_value_metadata().map(|kv| kv.iter().map(|k| (k.key.clone(), k.value.clone())).collect()).unwrap_or_default();
        let descr = meta.schema_descr_ptr();
        let mut columns = Vec::new();
        for c in descr.columns() {
            let values = match c.physical_type() {
                PhysicalType::BYTE_ARRAY => Values::Text(Vec::new()),
                PhysicalType::INT64 => Values::Int(Vec::new()),
                PhysicalType::FLOAT => Values::Float(Vec::new()),
                other => return Err(ParquetError::General(format!("column {}: {other} is not a column isoformer writes", c.name()))),
            };
            columns.push((c.name().to_string(), values));
        }
        let mut rows = 0;
        for row in reader.get_row_iter(None)? {
            let row = row?;
            for (k, (_, values)) in columns.iter_mut().enumerate() {
                match values {
                    Values::Text(v) => v.push(row.get_string(k)?.clone()),
                    Values::Int(v) => v.push(row.get_long(k)?),
                    Values::Float(v) => v.push(row.get_float(k)?),
                }
            }
            rows += 1;
        }
        Ok(Table { schema: descr.name().to_string(), columns, metadata, rows })
    }

    /// Columns of equal length as one row group (the layout described above), with `metadata` as
    /// the file's key-value metadata (the provenance): the writer every table of the pipeline
    /// goes through.
    pub fn write_columns(schema: &str, columns: Vec<Column>, metadata: &[(&str, String)]) -> Result<Vec<u8>> {
        let mut fields = Vec::with_capacity(columns.len());
        for c in &columns {
            let field = match c {
                Column::Text(name, _) => {
                    let t = Type::primitive_type_builder(name, PhysicalType::BYTE_ARRAY).with_repetition(Repetition::REQUIRED);
                    t.with_logical_type(Some(LogicalType::String)).build()?
                }
                Column::Int(name, _) => Type::primitive_type_builder(name, PhysicalType::INT64).with_repetition(Repetition::REQUIRED).build()?,
                Column::Float(name, _) => Type::primitive_type_builder(name, PhysicalType::FLOAT).with_repetition(Repetition::REQUIRED).build()?,
            };
            fields.push(Arc::new(field));
        }
        let schema = Arc::new(Type::group_type_builder(schema).with_fields(fields).build()?);
        let kv: Vec<KeyValue> = metadata.iter().map(|(k, v)| KeyValue::new(k.to_string(), v.clone())).collect();
        let props = WriterProperties::builder().set_created_by(format!("isoformer {}", env!("CARGO_PKG_VERSION")));
        let props = Arc::new(if kv.is_empty() { props } else { props.set_key_value_metadata(Some(kv)) }.build());
        let mut bytes = Vec::new();
        let mut writer = SerializedFileWriter::new(&mut bytes, schema, props)?;
        let mut group = writer.next_row_group()?;
        for c in columns {
            let mut column = group.next_column()?.expect("a column per schema field");
            match c {
                Column::Text(_, values) => {
                    let values: Vec<ByteArray> = values.into_iter().map(ByteArray::from).collect();
                    column.typed::<ByteArrayType>().write_batch(&values, None, None)?;
                }
                Column::Int(_, values) => {
                    column.typed::<Int64Type>().write_batch(&values, None, None)?;
                }
                Column::Float(_, values) => {
                    column.typed::<FloatType>().write_batch(&values, None, None)?;
                }
            }
            column.close()?;
        }
        group.close()?;
        writer.close()?;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(has_gene: bool) -> PredictionTable {
        let row = |id: &str, gene: &str, values: Vec<f32>| PredictionRow { transcript_id: id.into(), gene_id: gene.into(), values };
        PredictionTable { outputs: vec!["x".into(), "y".into()], has_gene, rows: vec![row("a", "g", vec![1.0, -0.5]), row("b", "", vec![0.1234567, 2.0])] }
    }

    #[test]
    fn tsv_layout_with_and_without_gene_id() {
        assert_eq!(table(false).to_tsv(), "transcript_id\tx\ty\na\t1.000000\t-0.500000\nb\t0.123457\t2.000000\n");
        assert_eq!(table(true).to_tsv(), "transcript_id\tgene_id\tx\ty\na\tg\t1.000000\t-0.500000\nb\t\t0.123457\t2.000000\n");
    }

    #[test]
    fn units_follow_the_output_names() {
        assert_eq!(table(true).units(), Units::OutputNames);
        let mut t = table(true);
        t.outputs = TISSUES.iter().map(|s| s.to_string()).collect();
        assert_eq!(t.units(), Units::LogTpm);
        assert_eq!(t.units().legend(), " log(TPM+1)");
    }
}
