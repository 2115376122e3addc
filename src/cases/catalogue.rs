//! The category catalogue as cases use it: the current versions, a category's history, and an
//! admin's new version (open cases keep the version they were opened under).

use std::sync::Arc;

use super::{CaseError, CaseService, invalid};
use crate::domain::catalogue::{Catalogue, Category};
use crate::store::{Audit, CategoryVersion};

impl CaseService {
    /// The catalogue the engine answers from (current and past versions).
    pub fn catalogue(&self) -> Arc<Catalogue> {
        self.live.catalogue()
    }

    /// Every version of one category; `NotFound` when there is no such category.
    pub async fn category_versions(&self, code: &str) -> Result<Vec<CategoryVersion>, CaseError> {
        let versions: Vec<CategoryVersion> = self
            .store
            .category_versions()
            .await?
            .into_iter()
            .filter(|v| v.category.code == code)
            .collect();
        if versions.is_empty() {
            return Err(CaseError::NotFound(format!(
                "category {code} does not exist"
            )));
        }
        Ok(versions)
    }

    /// Writes a new version of category `code` and answers from it at once, without waiting
    /// for the poller.
    pub async fn put_category(
        &self,
        code: &str,
        category: &Category,
        audit: &Audit,
    ) -> Result<CategoryVersion, CaseError> {
        if category.code != code {
            return Err(invalid(
                "invalid_field",
                format!(
                    "the body's code {:?} differs from the path's {code:?}",
                    category.code
                ),
            ));
        }
        category
            .check()
            .map_err(|e| invalid("invalid_category", e.to_string()))?;
        let saved = self.store.put_category(category, audit).await?;
        self.live.reload_if_changed().await?;
        Ok(saved)
    }
}
