use resilient_http::resilient;

#[resilient]
async fn call() -> Result<u32, String> {
    Ok(1)
}

fn main() {}
