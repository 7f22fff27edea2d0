//! all-MiniLM-L6-v2 (or any fastembed model) in process, through ONNX Runtime loaded
//! dynamically from a file, so nothing is downloaded at build time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TextInitOptions, TokenizerFiles,
    UserDefinedEmbeddingModel,
};

use super::{normalize, EmbedError, Embedder};

/// Where the model comes from.
#[derive(Debug, Clone)]
pub enum LocalModel {
    /// A directory holding model.onnx, tokenizer.json, config.json, special_tokens_map.json and
    /// tokenizer_config.json (what scripts/fetch_model.py writes).
    Files { dir: PathBuf, mean_pooling: bool },
    /// A fastembed catalog model by name (e.g. "BAAI/bge-small-en-v1.5"), downloaded from the
    /// Hugging Face Hub on first use; for machines with internet access.
    Catalog { name: String, cache_dir: PathBuf },
}

pub struct LocalEmbedder {
    model: Arc<Mutex<TextEmbedding>>,
    model_id: String,
    dimension: usize,
    batch_size: usize,
}

fn read(dir: &Path, name: &str) -> Result<Vec<u8>, EmbedError> {
    let path = dir.join(name);
    std::fs::read(&path).map_err(|e| {
        EmbedError::Unavailable(format!(
            "cannot read {} ({e}); run scripts/fetch_model.py (make setup) to fetch the model files",
            path.display()
        ))
    })
}

/// ONNX Runtime allows one environment per process; a second model (a reload, or a second
/// engine in the same process) shares the first one.
fn environment(onnxruntime: &Path) -> Result<ort::environment::Environment, EmbedError> {
    static ENVIRONMENT: std::sync::OnceLock<ort::environment::Environment> =
        std::sync::OnceLock::new();
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env.clone());
    }
    let env = ort::init_from(onnxruntime)
        .map_err(|e| EmbedError::Unavailable(format!("loading {}: {e}", onnxruntime.display())))?
        .with_name("cairn")
        .build()
        .map_err(|e| EmbedError::Unavailable(format!("starting ONNX Runtime: {e}")))?;
    Ok(ENVIRONMENT.get_or_init(|| env).clone())
}

impl LocalEmbedder {
    /// Loads ONNX Runtime from `onnxruntime` (a libonnxruntime.so path) and the model.
    pub fn load(
        onnxruntime: &Path,
        model: &LocalModel,
        model_id: &str,
        max_length: usize,
        threads: usize,
        batch_size: usize,
    ) -> Result<Self, EmbedError> {
        if !onnxruntime.exists() {
            return Err(EmbedError::Unavailable(format!(
                "ONNX Runtime library {} is missing; run scripts/fetch_model.py (make setup)",
                onnxruntime.display()
            )));
        }
        let environment = environment(onnxruntime)?;
        let threads = if threads == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            threads
        };
        let mut embedding = match model {
            LocalModel::Files { dir, mean_pooling } => {
                let files = TokenizerFiles {
                    tokenizer_file: read(dir, "tokenizer.json")?,
                    config_file: read(dir, "config.json")?,
                    special_tokens_map_file: read(dir, "special_tokens_map.json")?,
                    tokenizer_config_file: read(dir, "tokenizer_config.json")?,
                };
                let mut user_model =
                    UserDefinedEmbeddingModel::new(read(dir, "model.onnx")?, files);
                if *mean_pooling {
                    user_model = user_model.with_pooling(Pooling::Mean);
                }
                let options = InitOptionsUserDefined::new()
                    .with_environment(environment)
                    .with_max_length(max_length)
                    .with_intra_threads(threads);
                TextEmbedding::try_new_from_user_defined(user_model, options).map_err(|e| {
                    EmbedError::Unavailable(format!("loading model from {}: {e}", dir.display()))
                })?
            }
            LocalModel::Catalog { name, cache_dir } => {
                let parsed = name.parse::<fastembed::EmbeddingModel>().map_err(|e| {
                    EmbedError::Unavailable(format!("unknown fastembed model {name}: {e}"))
                })?;
                let options = TextInitOptions::new(parsed)
                    .with_environment(environment)
                    .with_cache_dir(cache_dir.clone())
                    .with_max_length(max_length)
                    .with_intra_threads(threads);
                TextEmbedding::try_new(options).map_err(|e| {
                    EmbedError::Unavailable(format!("loading fastembed model {name}: {e}"))
                })?
            }
        };
        let probe = embedding
            .embed(vec!["dimension probe"], None)
            .map_err(|e| EmbedError::Unavailable(format!("model does not run: {e}")))?;
        let dimension = probe.first().map(Vec::len).unwrap_or(0);
        Ok(Self {
            model: Arc::new(Mutex::new(embedding)),
            model_id: model_id.to_string(),
            dimension,
            batch_size: batch_size.max(1),
        })
    }
}

#[async_trait]
impl Embedder for LocalEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(vec![]);
        }
        let model = self.model.clone();
        let batch_size = self.batch_size;
        tokio::task::spawn_blocking(move || {
            let mut model = model
                .lock()
                .map_err(|_| EmbedError::Failed("model lock poisoned".into()))?;
            let mut vectors = model
                .embed(&texts, Some(batch_size))
                .map_err(|e| EmbedError::Failed(e.to_string()))?;
            vectors.iter_mut().for_each(|v| normalize(v));
            Ok(vectors)
        })
        .await
        .map_err(|e| EmbedError::Failed(format!("embedding task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn models() -> PathBuf {
        std::env::var("CAIRN_MODEL_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/cairn/models")
            })
    }

    #[tokio::test]
    async fn the_fetched_model_embeds_related_texts_closer() {
        let dir = models();
        let model = LocalModel::Files {
            dir: dir.join("all-MiniLM-L6-v2"),
            mean_pooling: true,
        };
        let embedder = LocalEmbedder::load(
            &dir.join("onnxruntime/libonnxruntime.so"),
            &model,
            "all-MiniLM-L6-v2",
            256,
            0,
            32,
        )
        .expect("model files (run make setup)");
        assert_eq!(embedder.dimension(), 384);
        let v = embedder
            .embed(vec![
                "a cat sleeps on the sofa".into(),
                "a kitten naps on the couch".into(),
                "quarterly corporate tax filing".into(),
            ])
            .await
            .expect("embed");
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        assert!((dot(&v[0], &v[0]) - 1.0).abs() < 1e-4, "unit length");
        assert!(
            dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2,
            "{} vs {}",
            dot(&v[0], &v[1]),
            dot(&v[0], &v[2])
        );
    }

    #[test]
    fn a_missing_runtime_library_is_a_clear_error() {
        let model = LocalModel::Files {
            dir: PathBuf::from("/nonexistent"),
            mean_pooling: true,
        };
        let err = LocalEmbedder::load(
            std::path::Path::new("/nonexistent/libonnxruntime.so"),
            &model,
            "m",
            256,
            1,
            8,
        )
        .err()
        .expect("fails");
        assert!(err.to_string().contains("fetch_model.py"), "{err}");
    }
}
