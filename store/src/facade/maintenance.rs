//! etcd's Maintenance service: Status and Alarm (no alarms are ever raised). Defragment,
//! Hash, HashKV, Snapshot, MoveLeader and Downgrade are not in the served protocol and answer
//! UNIMPLEMENTED.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::{MEMBER_ID, REPORTED_ETCD_VERSION, header, pb};
use crate::store::Store;

pub struct MaintenanceService {
    store: Arc<Store>,
}

impl MaintenanceService {
    pub fn new(store: Arc<Store>) -> MaintenanceService {
        MaintenanceService { store }
    }
}

#[tonic::async_trait]
impl pb::maintenance_server::Maintenance for MaintenanceService {
    async fn alarm(
        &self,
        request: Request<pb::AlarmRequest>,
    ) -> Result<Response<pb::AlarmResponse>, Status> {
        use pb::alarm_request::AlarmAction;
        match AlarmAction::try_from(request.into_inner().action) {
            Ok(AlarmAction::Get) => {}
            _ => {
                return Err(Status::unimplemented(
                    "not supported: raising or clearing alarms",
                ));
            }
        }
        Ok(Response::new(pb::AlarmResponse {
            header: Some(header(self.store.newest_revision())),
            alarms: Vec::new(),
        }))
    }

    async fn status(
        &self,
        _request: Request<pb::StatusRequest>,
    ) -> Result<Response<pb::StatusResponse>, Status> {
        let partitions = self.store.partitions();
        let revision = self.store.newest_revision();
        let bytes: u64 = partitions.iter().map(|p| p.engine().size().bytes).sum();
        // The raft index of a single-member etcd grows with every write; the sum of the
        // partitions' revisions does the same here.
        let index: u64 = partitions.iter().map(|p| p.revision().get()).sum();
        let db_size = i64::try_from(bytes).unwrap_or(i64::MAX);
        Ok(Response::new(pb::StatusResponse {
            header: Some(header(revision)),
            version: REPORTED_ETCD_VERSION.to_owned(),
            db_size,
            leader: MEMBER_ID,
            raft_index: index,
            raft_term: 1,
            raft_applied_index: index,
            errors: Vec::new(),
            db_size_in_use: db_size,
            is_learner: false,
            storage_version: REPORTED_ETCD_VERSION.to_owned(),
            db_size_quota: 0,
        }))
    }
}
