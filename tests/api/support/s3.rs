//! A real S3-compatible server for the storage tests: moto's server mode (`moto[server]` from
//! PyPI), started as a child process of the Python in `CHATKIT_TEST_PYTHON`; killed when
//! dropped or by [`Moto::kill`], which is how tests make the store go away.

use super::python::PythonChild;

/// The moto server, on a free loopback port, with one bucket of its own.
pub struct Moto {
    pub endpoint: String,
    pub bucket: String,
    child: PythonChild,
}

impl Moto {
    /// `None` (after saying why) when Python or moto is missing.
    pub async fn start() -> Option<Moto> {
        let child = PythonChild::start(
            "moto.server",
            "S3 storage: moto is missing (pip install 'moto[server]==5.2.5' and set CHATKIT_TEST_PYTHON)",
            |port| {
                [
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ]
                .map(str::to_owned)
                .to_vec()
            },
        )?;
        let port = child.port;
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: format!("chatkit-{}", uuid::Uuid::new_v4().simple()),
            child,
        };
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        // Creating the bucket is also how we know the server is up.
        loop {
            match client.put(moto.bucket_url()).send().await {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => panic!("moto refused to create the bucket: {}", r.status()),
                Err(_) => {
                    assert!(std::time::Instant::now() < deadline, "moto did not start");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
        Some(moto)
    }

    fn bucket_url(&self) -> String {
        format!("{}/{}", self.endpoint, self.bucket)
    }

    /// The server variables that store attachments in this bucket under `prefix`.
    pub fn vars(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "CHATKIT_STORAGE_URL",
                format!("s3://{}/{prefix}", self.bucket),
            ),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ]
    }

    /// A request to the bucket. Moto checks no signatures, but refuses anonymous reads: an
    /// `Authorization` header that names a key will do.
    fn request(&self, method: reqwest::Method, query_or_key: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{query_or_key}", self.bucket_url()))
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
                 SignedHeaders=host, Signature=00",
            )
    }

    /// The bytes of an object, or `None` when there is no such (complete) object.
    pub async fn object(&self, key: &str) -> Option<Vec<u8>> {
        let response = self
            .request(reqwest::Method::GET, &format!("/{key}"))
            .send()
            .await
            .expect("moto answers");
        match response.status().as_u16() {
            200 => Some(response.bytes().await.expect("object bytes").to_vec()),
            404 => None,
            status => panic!("moto answered {status} for {key}"),
        }
    }

    /// The size of an object, without downloading it.
    pub async fn object_size(&self, key: &str) -> Option<u64> {
        let response = self
            .request(reqwest::Method::HEAD, &format!("/{key}"))
            .send()
            .await
            .expect("moto answers");
        response.status().is_success().then(|| {
            response.headers()["content-length"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        })
    }

    /// Deletes an object behind the server's back.
    pub async fn delete(&self, key: &str) {
        let response = self
            .request(reqwest::Method::DELETE, &format!("/{key}"))
            .send()
            .await
            .expect("moto answers");
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// How many objects the bucket holds, and how many multipart uploads are still open.
    pub async fn counts(&self) -> (usize, usize) {
        let list = self
            .request(reqwest::Method::GET, "?list-type=2")
            .send()
            .await
            .expect("moto lists")
            .text()
            .await
            .unwrap();
        let uploads = self
            .request(reqwest::Method::GET, "?uploads")
            .send()
            .await
            .expect("moto lists uploads")
            .text()
            .await
            .unwrap();
        (
            list.matches("<Key>").count(),
            uploads.matches("<UploadId>").count(),
        )
    }

    /// Stops the server at once, as an outage would.
    pub fn kill(&mut self) {
        self.child.kill();
    }
}
