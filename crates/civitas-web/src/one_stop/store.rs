//! The catalogue API and the citizen's document store API.

use super::*;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ProcedureQuery {
    /// Words of the name (either language, diacritics optional) or the code.
    q: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureList {
    /// Version of the catalogue.
    version: String,
    #[schema(value_type = Vec<Object>)]
    items: Vec<Procedure>,
}

#[utoipa::path(get, path = "/api/v1/procedures", tag = "procedures", params(ProcedureQuery),
    responses((status = 200, body = ProcedureList)))]
pub async fn list_procedures(
    AxumState(state): AxumState<AppState>,
    Query(q): Query<ProcedureQuery>,
) -> Json<ProcedureList> {
    let items = state.catalogue.search(q.q.as_deref().unwrap_or_default()).into_iter().cloned().collect();
    Json(ProcedureList { version: state.catalogue.version.clone(), items })
}

#[utoipa::path(get, path = "/api/v1/procedures/{code}", tag = "procedures",
    params(("code" = String, Path, description = "Procedure code, e.g. DVC-03")),
    responses((status = 200, body = Object), (status = 404, body = Problem)))]
pub async fn get_procedure(
    AxumState(state): AxumState<AppState>,
    Path(code): Path<String>,
) -> Result<Json<Procedure>, Problem> {
    state.catalogue.get(&code).cloned().map(Json).ok_or_else(|| Problem::not_found(format!("no procedure {code}")))
}

pub(super) fn procedure_of<'a>(state: &'a AppState, code: &str) -> Result<&'a Procedure, Problem> {
    state.catalogue.get(code).ok_or_else(|| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown-procedure",
            "Unknown procedure",
            format!("no procedure {code:?} in the catalogue"),
        )
        .with_errors(vec![FieldProblem { field: "procedure".into(), detail: "unknown procedure".into() }])
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// The document's name as the citizen knows it.
    name: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/me/documents", tag = "documents", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "PDF, JPEG or PNG, at most 10 MiB"),
    responses((status = 201, body = Object), (status = 400, body = Problem), (status = 413, body = Problem), (status = 415, body = Problem)),
    security(("bearer" = [])))]
pub async fn upload_document(
    AxumState(state): AxumState<AppState>,
    headers: axum::http::HeaderMap,
    citizen: Citizen,
    Query(q): Query<UploadQuery>,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<documents::Document>), Problem> {
    // A body declared too large is refused before a byte of it is read.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|n| n > documents::MAX_BYTES) {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Document too large",
            format!("at most {} bytes are accepted", documents::MAX_BYTES),
        ));
    }
    // The rest is read up to the limit (a body without a declared length, or lying about it).
    let body = axum::body::to_bytes(body, documents::MAX_BYTES + 64 * 1024).await.map_err(|e| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Document too large",
            format!("the file could not be read ({e}); at most {} bytes are accepted", documents::MAX_BYTES),
        )
    })?;
    let name = q.name.unwrap_or_else(|| "tài liệu".into());
    let doc = documents::store(&state.db, &citizen.pid, &name, &body, crate::now()).await?;
    Ok((StatusCode::CREATED, Json(document_for(doc, &citizen))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<documents::Document>,
}

#[utoipa::path(get, path = "/api/v1/me/documents", tag = "documents",
    responses((status = 200, body = DocumentList), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn my_documents(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
) -> Result<Json<DocumentList>, Problem> {
    let items =
        documents::list(&state.db, &citizen.pid).await?.into_iter().map(|d| document_for(d, &citizen)).collect();
    Ok(Json(DocumentList { items }))
}

#[utoipa::path(get, path = "/api/v1/me/documents/{id}", tag = "documents",
    params(("id" = String, Path)), responses((status = 200, description = "The file"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn my_document(
    AxumState(state): AxumState<AppState>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    own_file(&state, &citizen.pid, &id).await?.ok_or_else(|| Problem::not_found("no such document in your store"))
}
