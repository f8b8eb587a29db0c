use resilient_http::resilient;

#[resilient]
async fn call() -> u32 {
    1
}

fn main() {}
