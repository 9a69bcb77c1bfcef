//! One integration-test binary: the real server over real sockets, against a
//! fresh SQLite file and a fresh PostgreSQL database for every test.

mod helpers;

mod admin;
mod archive;
mod bootstrap;
mod canned;
mod capacity;
mod chat;
mod cli;
mod cluster;
mod cluster_faults;
mod cluster_rooms;
mod connection_limits;
mod crash;
mod dashboard;
mod db_outage;
mod disk_full;
mod e2e;
mod files;
mod frames;
mod hardening;
mod health;
mod identity;
mod labels;
mod lock_order;
mod lockout;
mod login;
mod nodes;
mod notes;
mod opening;
mod overload;
mod ownership;
mod process;
mod receiver;
mod rest;
mod rooms;
mod rooms_admin;
mod slow_clients;
mod socket_sessions;
mod storage;
mod transcripts;
mod visitor_limits;
mod webhook_faults;
mod webhooks;
mod widget;
