//! The hubs' answers to one control request, merged into the application's answer.
//!
//! Each hub lists its first [`MAX_USERS`] users (or [`MAX_ROOMS`] rooms) by name, so the first ones of
//! the merged list are the cluster's first ones: a name among the cluster's first is among the first of
//! every hub that has it. Counts are added up.

use std::collections::BTreeMap;

use hub_protocol::admin::{MAX_SOCKETS, SerializedSocket};
use hub_protocol::control::{
    ControlAnswer, MAX_ROOMS, MAX_USERS, RoomCount, RoomList, RoomUser, RoomUsers, UserSocket,
};

/// `GET /api/rooms`; `None` when no hub serves the namespace.
pub fn rooms(answers: Vec<ControlAnswer>, partial: bool) -> Option<RoomList> {
    let mut any_known = false;
    let mut truncated = false;
    let mut sizes = BTreeMap::<String, usize>::new();
    for answer in answers {
        let ControlAnswer::Rooms { known, rooms, truncated: cut } = answer else { continue };
        any_known |= known;
        truncated |= cut;
        for RoomCount { room, members } in rooms {
            let size = sizes.entry(room).or_default();
            *size = size.saturating_add(members);
        }
    }
    truncated |= sizes.len() > MAX_ROOMS;
    let rooms =
        sizes.into_iter().take(MAX_ROOMS).map(|(room, members)| RoomCount { room, members }).collect();
    any_known.then_some(RoomList { rooms, truncated, partial })
}

/// `who` and `GET /api/rooms/{room}`; `None` when no hub serves the namespace.
pub fn room(room: String, answers: Vec<ControlAnswer>, partial: bool) -> Option<RoomUsers> {
    let mut any_known = false;
    let mut truncated = false;
    let mut members: usize = 0;
    let mut users = BTreeMap::<String, RoomUser>::new();
    for answer in answers {
        let ControlAnswer::Room { known, members: on_hub, users: listed, truncated: cut } = answer else {
            continue;
        };
        any_known |= known;
        truncated |= cut;
        members = members.saturating_add(on_hub);
        for user in listed {
            match users.get_mut(&user.user) {
                Some(merged) => {
                    merged.sockets = merged.sockets.saturating_add(user.sockets);
                    if merged.info.is_none() {
                        merged.info = user.info;
                    }
                }
                None => {
                    users.insert(user.user.clone(), user);
                }
            }
        }
    }
    truncated |= users.len() > MAX_USERS;
    let users = users.into_values().take(MAX_USERS).collect();
    any_known.then_some(RoomUsers { room, members, users, truncated, partial })
}

/// `GET /api/users/{user}`: every hub's sockets of the user, sorted, and whether the list was cut.
pub fn user(answers: Vec<ControlAnswer>) -> (Vec<UserSocket>, bool) {
    let mut truncated = false;
    let mut sockets = Vec::new();
    for answer in answers {
        let ControlAnswer::User { sockets: listed, truncated: cut } = answer else { continue };
        truncated |= cut;
        sockets.extend(listed);
    }
    sockets.sort_unstable_by(|a, b| (&a.namespace, &a.rooms).cmp(&(&b.namespace, &b.rooms)));
    truncated |= sockets.len() > MAX_USERS;
    sockets.truncate(MAX_USERS);
    (sockets, truncated)
}

/// The Admin UI's `all_sockets`: every hub's sockets, sorted, at most [`MAX_SOCKETS`].
pub fn admin_sockets(answers: Vec<ControlAnswer>) -> (Vec<SerializedSocket>, bool) {
    let mut truncated = false;
    let mut sockets = Vec::new();
    for answer in answers {
        let ControlAnswer::AdminSockets { sockets: listed, truncated: cut } = answer else { continue };
        truncated |= cut;
        sockets.extend(listed);
    }
    sockets.sort_unstable_by(|a, b| (&a.nsp, &a.id).cmp(&(&b.nsp, &b.id)));
    truncated |= sockets.len() > MAX_SOCKETS;
    sockets.truncate(MAX_SOCKETS);
    (sockets, truncated)
}

/// The cluster's counts of a disconnect, join or leave.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Some hub serves the namespace.
    pub known: bool,
    pub found: usize,
    pub done: usize,
    pub refused: usize,
}

pub fn counts(answers: Vec<ControlAnswer>) -> Counts {
    answers.into_iter().fold(Counts::default(), |total, answer| match answer {
        ControlAnswer::Count { known, found, done, refused } => Counts {
            known: total.known || known,
            found: total.found.saturating_add(found),
            done: total.done.saturating_add(done),
            refused: total.refused.saturating_add(refused),
        },
        _ => total,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(name: &str, sockets: usize) -> RoomUser {
        RoomUser { user: name.to_owned(), info: None, sockets }
    }

    #[test]
    fn a_user_on_several_hubs_is_one_user_with_all_its_sockets() {
        let hub = |members, users| ControlAnswer::Room { known: true, members, users, truncated: false };
        let mut bob = user("bob", 1);
        bob.info = Some(json!({"role": "admin"}));
        let merged = room(
            "r".into(),
            vec![hub(3, vec![user("carol", 1), user("zed", 2)]), hub(2, vec![user("alice", 1), bob.clone()])],
            false,
        )
        .unwrap();
        assert_eq!(merged.members, 5);
        let names: Vec<_> = merged.users.iter().map(|u| (u.user.as_str(), u.sockets)).collect();
        assert_eq!(names, [("alice", 1), ("bob", 1), ("carol", 1), ("zed", 2)], "sorted by name");
        assert_eq!(merged.users[1], bob, "with its info");
        let more = room("r".into(), vec![hub(1, vec![user("zed", 1)]), hub(2, vec![user("zed", 2)])], true);
        assert_eq!(more.as_ref().map(|m| (m.users.clone(), m.partial)), Some((vec![user("zed", 3)], true)));
    }

    #[test]
    fn lists_stay_bounded_and_say_so() {
        let users = (0..MAX_USERS).map(|i| user(&format!("u{i:05}"), 1)).collect::<Vec<_>>();
        let answer = |users| ControlAnswer::Room { known: true, members: MAX_USERS, users, truncated: false };
        let mut others = users.clone();
        others.push(user("zzz", 1));
        let merged = room("r".into(), vec![answer(users), answer(others)], false).unwrap();
        assert_eq!((merged.users.len(), merged.truncated, merged.members), (MAX_USERS, true, 2 * MAX_USERS));
        assert_eq!(merged.users[0].sockets, 2);
    }

    #[test]
    fn a_namespace_no_hub_serves_is_unknown() {
        let unknown = ControlAnswer::Rooms { known: false, rooms: Vec::new(), truncated: false };
        assert_eq!(rooms(vec![unknown.clone()], false), None);
        let known = ControlAnswer::Rooms {
            known: true,
            rooms: vec![RoomCount { room: "a".into(), members: 2 }],
            truncated: false,
        };
        let merged = rooms(vec![unknown, known.clone(), known], false).unwrap();
        assert_eq!(merged.rooms, [RoomCount { room: "a".into(), members: 4 }]);
    }

    #[test]
    fn counts_add_up() {
        let count = |known, found, done, refused| ControlAnswer::Count { known, found, done, refused };
        let total = counts(vec![count(false, 0, 0, 0), count(true, 3, 2, 1), count(true, 1, 1, 0)]);
        assert_eq!(total, Counts { known: true, found: 4, done: 3, refused: 1 });
    }
}
