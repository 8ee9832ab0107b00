//! [`ObjectStore`] over Amazon S3.

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use mdlc_core::ports::{ObjectInfo, ObjectStore};
use mdlc_core::{PortError, S3Uri};

use crate::error::map_sdk_error;

/// The S3 object store adapter.
#[derive(Debug, Clone)]
pub struct S3ObjectStore {
    client: Client,
    page_size: Option<i32>,
}

impl S3ObjectStore {
    pub fn new(client: Client) -> Self {
        S3ObjectStore {
            client,
            page_size: None,
        }
    }

    /// Keys per ListObjectsV2 page (S3's default, and maximum, is 1000).
    pub fn with_list_page_size(mut self, page_size: i32) -> Self {
        self.page_size = Some(page_size.clamp(1, 1000));
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn get(&self, uri: &S3Uri) -> Result<Vec<u8>, PortError> {
        let out = self
            .client
            .get_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .send()
            .await
            .map_err(|e| map_sdk_error("GetObject", &uri.to_string(), &e))?;
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| PortError::Unavailable {
                message: format!("GetObject on {uri}: reading the body failed: {e}"),
            })?;
        Ok(bytes.into_bytes().to_vec())
    }

    async fn put(&self, uri: &S3Uri, body: Vec<u8>) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| map_sdk_error("PutObject", &uri.to_string(), &e))?;
        Ok(())
    }

    async fn list(&self, prefix: &S3Uri) -> Result<Vec<ObjectInfo>, PortError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .client
                .list_objects_v2()
                .bucket(&prefix.bucket)
                .prefix(&prefix.key)
                .set_max_keys(self.page_size)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| map_sdk_error("ListObjectsV2", &prefix.to_string(), &e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                let size = object.size().unwrap_or(0);
                out.push(ObjectInfo {
                    uri: S3Uri::new(prefix.bucket.clone(), key),
                    size: u64::try_from(size).map_err(|_| PortError::Corrupt {
                        message: format!(
                            "ListObjectsV2 on {prefix}: object {key:?} has negative size {size}"
                        ),
                    })?,
                });
            }
            match (page.is_truncated(), page.next_continuation_token) {
                (Some(true), Some(next)) if !next.is_empty() => token = Some(next),
                (Some(true), _) => {
                    return Err(PortError::Corrupt {
                        message: format!(
                            "ListObjectsV2 on {prefix}: a truncated page came without a continuation token"
                        ),
                    });
                }
                _ => break,
            }
        }
        out.sort_by(|a, b| a.uri.key.cmp(&b.uri.key));
        Ok(out)
    }

    async fn exists(&self, uri: &S3Uri) -> Result<bool, PortError> {
        match self
            .client
            .head_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => match map_sdk_error("HeadObject", &uri.to_string(), &e) {
                PortError::NotFound { .. } => Ok(false),
                other => Err(other),
            },
        }
    }
}
