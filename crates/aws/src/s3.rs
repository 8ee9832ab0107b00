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

    /// A ranged `GetObject` (`Range: bytes=offset-(offset+len-1)`): only the range crosses the
    /// network and memory. A range that starts at or after the object's end is answered by S3
    /// with 416 `InvalidRange` ("The requested range is not satisfiable"), which is the port's
    /// empty read.
    async fn get_range(&self, uri: &S3Uri, offset: u64, len: u64) -> Result<Vec<u8>, PortError> {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        if len == 0 {
            // `bytes=a-(a-1)` is no range; whether the object exists is still asked.
            return match self.exists(uri).await? {
                true => Ok(Vec::new()),
                false => Err(PortError::not_found(uri.to_string())),
            };
        }
        let last = offset.saturating_add(len - 1);
        let sent = self
            .client
            .get_object()
            .bucket(&uri.bucket)
            .key(&uri.key)
            .range(format!("bytes={offset}-{last}"))
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e)
                if e.raw_response().map(|r| r.status().as_u16()) == Some(416)
                    || e.as_service_error().and_then(|s| s.code()) == Some("InvalidRange") =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(map_sdk_error("GetObject", &uri.to_string(), &e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| PortError::Unavailable {
                message: format!(
                    "GetObject on {uri} (bytes {offset}-{last}): reading the body failed: {e}"
                ),
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

    async fn any_under(&self, prefix: &S3Uri) -> Result<bool, PortError> {
        // One key is enough: ListObjectsV2 with MaxKeys 1 (s3:ListBucket).
        let page = self
            .client
            .list_objects_v2()
            .bucket(&prefix.bucket)
            .prefix(&prefix.key)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| map_sdk_error("ListObjectsV2", &prefix.to_string(), &e))?;
        Ok(page.key_count().unwrap_or(0) > 0 || !page.contents().is_empty())
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

#[cfg(test)]
mod tests {
    use aws_sdk_s3::Client;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
    use aws_sdk_s3::operation::head_object::{HeadObjectError, HeadObjectOutput};
    use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_sdk_s3::types::Object;
    use aws_sdk_s3::types::error::{NoSuchKey, NotFound};
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::test_support::mocked_client;

    fn uri(s: &str) -> S3Uri {
        s.parse().unwrap()
    }

    fn object(key: &str, size: i64) -> Object {
        Object::builder().key(key).size(size).build()
    }

    #[tokio::test]
    async fn given_an_object_when_put_and_got_then_bytes_round_trip() {
        let put = mock!(Client::put_object)
            .match_requests(|r| r.bucket() == Some("bkt") && r.key() == Some("a/b.csv"))
            .then_output(|| PutObjectOutput::builder().build());
        let get = mock!(Client::get_object)
            .match_requests(|r| r.bucket() == Some("bkt") && r.key() == Some("a/b.csv"))
            .then_output(|| {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(b"x,y\n1,2\n"))
                    .build()
            });
        let store = S3ObjectStore::new(mocked_client!(aws_sdk_s3, [&put, &get]));

        store
            .put(&uri("s3://bkt/a/b.csv"), b"x,y\n1,2\n".to_vec())
            .await
            .unwrap();
        let bytes = store.get(&uri("s3://bkt/a/b.csv")).await.unwrap();

        assert_eq!(bytes, b"x,y\n1,2\n");
        assert_eq!((put.num_calls(), get.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn given_a_missing_key_when_getting_then_not_found_names_the_uri() {
        let get = mock!(Client::get_object).then_error(|| {
            GetObjectError::NoSuchKey(
                NoSuchKey::builder()
                    .message("The specified key does not exist.")
                    .meta(ErrorMetadata::builder().code("NoSuchKey").build())
                    .build(),
            )
        });
        let store = S3ObjectStore::new(mocked_client!(aws_sdk_s3, [&get]));

        let err = store.get(&uri("s3://bkt/missing.csv")).await.unwrap_err();

        assert!(
            matches!(&err, PortError::NotFound { what } if what.contains("s3://bkt/missing.csv")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn given_head_answers_when_checking_existence_then_404_is_false_and_403_an_error() {
        let head = mock!(Client::head_object)
            .sequence()
            .output(|| HeadObjectOutput::builder().content_length(3).build())
            .error(|| {
                HeadObjectError::NotFound(
                    NotFound::builder()
                        .meta(ErrorMetadata::builder().code("NotFound").build())
                        .build(),
                )
            })
            .http_status(403, None)
            .http_status(503, None)
            .build();
        let store = S3ObjectStore::new(mocked_client!(aws_sdk_s3, [&head]));
        let u = uri("s3://bkt/k");

        assert!(store.exists(&u).await.unwrap());
        assert!(!store.exists(&u).await.unwrap());
        let forbidden = store.exists(&u).await.unwrap_err();
        assert!(
            matches!(forbidden, PortError::Rejected { .. }),
            "{forbidden}"
        );
        let down = store.exists(&u).await.unwrap_err();
        assert!(matches!(down, PortError::Unavailable { .. }), "{down}");
    }

    #[tokio::test]
    async fn given_three_pages_when_listing_then_every_key_is_returned_in_order() {
        let first = mock!(Client::list_objects_v2)
            .match_requests(|r| {
                r.continuation_token().is_none()
                    && r.prefix() == Some("runs/")
                    && r.max_keys() == Some(2)
            })
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(object("runs/a", 1))
                    .contents(object("runs/b", 2))
                    .is_truncated(true)
                    .next_continuation_token("t1")
                    .build()
            });
        let second = mock!(Client::list_objects_v2)
            .match_requests(|r| r.continuation_token() == Some("t1"))
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(object("runs/c", 3))
                    .contents(object("runs/d", 4))
                    .is_truncated(true)
                    .next_continuation_token("t2")
                    .build()
            });
        let third = mock!(Client::list_objects_v2)
            .match_requests(|r| r.continuation_token() == Some("t2"))
            .then_output(|| {
                ListObjectsV2Output::builder()
                    .contents(object("runs/e", 5))
                    .is_truncated(false)
                    .build()
            });
        let store = S3ObjectStore::new(mocked_client!(aws_sdk_s3, [&first, &second, &third]))
            .with_list_page_size(2);

        let listed = store.list(&uri("s3://bkt/runs/")).await.unwrap();

        let got: Vec<_> = listed.iter().map(|o| (o.uri.to_string(), o.size)).collect();
        assert_eq!(
            got,
            vec![
                ("s3://bkt/runs/a".to_string(), 1),
                ("s3://bkt/runs/b".to_string(), 2),
                ("s3://bkt/runs/c".to_string(), 3),
                ("s3://bkt/runs/d".to_string(), 4),
                ("s3://bkt/runs/e".to_string(), 5),
            ]
        );
        assert_eq!(
            (first.num_calls(), second.num_calls(), third.num_calls()),
            (1, 1, 1)
        );
    }

    #[tokio::test]
    async fn given_a_truncated_page_without_token_when_listing_then_corrupt_instead_of_a_loop() {
        let page = mock!(Client::list_objects_v2).then_output(|| {
            ListObjectsV2Output::builder()
                .contents(object("k", 1))
                .is_truncated(true)
                .build()
        });
        let store = S3ObjectStore::new(mocked_client!(aws_sdk_s3, [&page]));

        let err = store.list(&uri("s3://bkt/")).await.unwrap_err();

        assert!(matches!(err, PortError::Corrupt { .. }), "{err}");
        assert_eq!(page.num_calls(), 1);
    }
}
