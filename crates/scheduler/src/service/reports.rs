//! Replicate reports: what a worker's report moves, and what the worker must do next; the
//! task view.

use alloy::primitives::{Address, B256};
use dexec_primitives::poco::result_hash;

use super::Scheduler;
use crate::api::{Action, NextAction, Report, ReportAnswer, ReportStatus, TaskReport, TaskView};
use crate::config::Trust1Mode;
use crate::db::{ReplicateUpdate, TaskRow};
use crate::error::{Error, Result};
use crate::state::{ReplicateStatus as Rs, TaskStatus as Ts};

impl Scheduler {
    /// Several reports of one worker (`POST /workers/{address}/reports`), in their order; a
    /// report refused gets its refusal in its answer, and the others still count.
    pub async fn reports(&self, worker: Address, reports: Vec<TaskReport>) -> Vec<ReportAnswer> {
        let mut answers = Vec::with_capacity(reports.len());
        for TaskReport { task_id, report } in reports {
            answers.push(match self.report(worker, task_id, report).await {
                Ok(next) => ReportAnswer {
                    task_id,
                    action: Some(next.action),
                    status: None,
                    error: None,
                },
                Err(e) => {
                    let (status, message) = dexec_service::http::error_parts(&e);
                    ReportAnswer {
                        task_id,
                        action: None,
                        status: Some(status.as_u16()),
                        error: Some(message),
                    }
                }
            });
        }
        answers
    }

    pub async fn report(
        &self,
        worker: Address,
        task_id: B256,
        report: Report,
    ) -> Result<NextAction> {
        let rep = self.db.replicate(&task_id, &worker).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "no replicate of task {task_id} for worker {worker}"
            ))
        })?;
        let task = self
            .db
            .task(&task_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
        let ctx = self.deal_ctx(&task.deal_id).await?;
        let replicated = ctx.deal().trust > 1;
        let action = match report.status {
            ReportStatus::Failed => {
                if rep.status.is_live() {
                    // the slot was taken this long for nothing: it counts in the capacity
                    self.record_duration(rep.assigned_at);
                }
                self.db
                    .update_replicate(
                        &task_id,
                        &worker,
                        &Rs::LIVE,
                        Rs::Failed,
                        ReplicateUpdate {
                            error: report.error.clone(),
                            ..Default::default()
                        },
                    )
                    .await?;
                tracing::warn!(target: "scheduler::replicates", task = %task_id, %worker, error = ?report.error, "replicate failed");
                self.work.notify_waiters();
                Action::Abort
            }
            ReportStatus::Computed => {
                let digest = report.digest.ok_or_else(|| {
                    Error::BadRequest("a computed report carries its digest".into())
                })?;
                if !rep.status.is_live() {
                    settled_action(&task, rep.status, replicated)
                } else if task.status.is_final() {
                    Action::Abort
                } else {
                    // trust 1 in batch mode: the scheduler holds the result and pushes it in
                    // a batch, so the worker is free for its next replicate at once
                    let held = !replicated && self.config.trust1_mode == Trust1Mode::Batch;
                    if rep.status == Rs::Assigned {
                        // first report of the result (reports repeat): the replicate's duration
                        self.record_duration(rep.assigned_at);
                    }
                    self.db
                        .update_replicate(
                            &task_id,
                            &worker,
                            &Rs::LIVE,
                            if held { Rs::Held } else { Rs::Computed },
                            ReplicateUpdate {
                                digest: Some(digest),
                                result_location: report.result_location.clone(),
                                callback_data: report.callback_data.as_ref().map(|d| d.to_vec()),
                                ..Default::default()
                            },
                        )
                        .await?;
                    if held {
                        self.db
                            .transition_task(&task_id, &Ts::ASSIGNABLE, Ts::Pushing)
                            .await?;
                    }
                    match (replicated, self.config.trust1_mode) {
                        (false, Trust1Mode::Fast) => Action::ContributeAndFinalize,
                        (false, Trust1Mode::Batch) => Action::Done,
                        (true, _) if task.status == Ts::Revealing => Action::Abort,
                        (true, _) => Action::Contribute,
                    }
                }
            }
            ReportStatus::Contributed => {
                let digest = report.digest.or(rep.digest);
                let update = ReplicateUpdate {
                    digest,
                    result_hash: digest.map(|d| result_hash(task_id, d)),
                    ..Default::default()
                };
                self.db
                    .update_replicate(&task_id, &worker, &Rs::LIVE, Rs::Contributed, update)
                    .await?;
                let rep = self.db.replicate(&task_id, &worker).await?;
                let status = rep.as_ref().map_or(Rs::Contributed, |r| r.status);
                replicated_action(&task, rep.as_ref().and_then(|r| r.result_hash), status)
            }
            ReportStatus::Revealed => {
                self.db
                    .update_replicate(
                        &task_id,
                        &worker,
                        &[Rs::Contributed],
                        Rs::Revealed,
                        ReplicateUpdate::default(),
                    )
                    .await?;
                if task.status == Ts::Completed {
                    Action::Done
                } else {
                    Action::Wait
                }
            }
            ReportStatus::Finalized => {
                // the worker says its `contributeAndFinalize` was mined: a replicate is done
                // (and its task needs no other, before its TaskFinalize event arrives) only if
                // the chain says so; else it stays live, under the replicate timeout
                let poco = self.client.deployment().poco(self.client.provider());
                let view = poco
                    .viewTask(task_id)
                    .call()
                    .await
                    .map_err(dexec_contracts::Error::from)?;
                if view.status != super::settle::HUB_TASK_COMPLETED {
                    tracing::warn!(target: "scheduler::replicates", task = %task_id, %worker, "a worker reported a finalization the chain does not show");
                    return Ok(NextAction {
                        action: Action::Done,
                    });
                }
                self.db
                    .set_replicate(
                        &task_id,
                        &worker,
                        Rs::Done,
                        ReplicateUpdate {
                            digest: report.digest,
                            result_location: report.result_location,
                            ..Default::default()
                        },
                    )
                    .await?;
                Action::Done
            }
        };
        tracing::debug!(target: "scheduler::replicates", task = %task_id, %worker, status = ?report.status, ?action, "report");
        Ok(NextAction { action })
    }

    pub async fn task_view(&self, task_id: B256) -> Result<TaskView> {
        let task = self.db.task(&task_id).await?.ok_or_else(|| {
            Error::NotFound(format!("task {task_id} is not one of this workerpool's"))
        })?;
        let ctx = self.deal_ctx(&task.deal_id).await?;
        let replicates = self.db.replicates(&task_id).await?;
        Ok(TaskView {
            task_id,
            deal_id: task.deal_id,
            index: task.index,
            trust: ctx.deal().trust,
            status: task.status.as_str().to_owned(),
            consensus: task.consensus,
            result_digest: task.result_digest,
            results: task.results,
            replicates: replicates.iter().map(|r| r.view()).collect(),
        })
    }
}

/// What a replicate that is past computing must do.
fn settled_action(task: &TaskRow, status: Rs, replicated: bool) -> Action {
    match status {
        Rs::Done | Rs::Held => Action::Done,
        Rs::Contributed | Rs::Revealed if replicated && !task.status.is_final() => Action::Wait,
        // a task settled without this worker's report of it: the worker stops asking
        Rs::Contributed | Rs::Revealed if task.status == Ts::Completed => Action::Done,
        _ => Action::Abort,
    }
}

/// What a contributor of a replicated task must do, given where the task is.
fn replicated_action(task: &TaskRow, result_hash: Option<B256>, status: Rs) -> Action {
    match task.status {
        Ts::Completed | Ts::Failed => Action::Done,
        Ts::Revealing => {
            if status == Rs::Revealed {
                Action::Wait
            } else if result_hash.is_some() && result_hash == task.consensus {
                Action::Reveal
            } else {
                Action::Done
            }
        }
        _ if status == Rs::Rejected => Action::Done,
        _ => Action::Wait,
    }
}
