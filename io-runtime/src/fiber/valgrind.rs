//! valgrind client requests: fiber stacks are registered with valgrind while a fiber owns them.
//!
//! valgrind follows the stack pointer of the program it runs. When a fiber switch moved it to a
//! stack valgrind did not know, valgrind warned "client switching stacks?" and then died of a
//! SIGSEGV of its own ("VALGRIND INTERNAL ERROR") reading the first page above the fiber's
//! stack: the guard page of the next slot, which it believes readable. Without known bounds
//! for that stack, the stack traces it takes (memcheck takes one at every allocation) walk up
//! past the fiber's top. A stack registered with `VALGRIND_STACK_REGISTER` is known: valgrind
//! bounds its unwinding by the stack's ends and treats a jump of the stack pointer into it as a
//! switch, not as a huge frame.
//!
//! The registration is enough, whatever the guard mode: valgrind does not know of a guard
//! region installed by `madvise(MADV_GUARD_INSTALL)` (it believes the page readable), but with
//! the stack's bounds known it has no reason to read there; a real overflow into the guard
//! still faults and is reported by the sibling module `overflow`, under valgrind too.
//!
//! # Client requests
//!
//! A client request is a special instruction sequence that does nothing on a real CPU (it
//! rotates a register by a total of 128 bits and exchanges a register with itself) and that
//! valgrind's JIT recognizes: it then reads the request from the array `rax` points to and puts
//! its answer in `rdx`, which natively keeps the default the program loaded. Outside valgrind a
//! request costs a handful of cycles and no system call. The request codes are valgrind's ABI
//! (`valgrind.h`, "DO NOT CHANGE THE NUMERIC VALUES"). The sequence is x86_64's; on other
//! architectures every request answers its default, as if valgrind were absent.

use super::PooledStack;

/// `VG_USERREQ__RUNNING_ON_VALGRIND`: answers how many valgrinds the program runs under.
const RUNNING_ON_VALGRIND: usize = 0x1001;
/// `VG_USERREQ__STACK_REGISTER(start, end)`: answers the id of the new stack.
const STACK_REGISTER: usize = 0x1501;
/// `VG_USERREQ__STACK_DEREGISTER(id)`.
const STACK_DEREGISTER: usize = 0x1502;

/// The default answer of a stack registration: what it answers outside valgrind, which never
/// hands out this id (its ids count up from 0).
const NOT_REGISTERED: usize = usize::MAX;

/// Sends the client request `request(args…)`; answers `default` outside valgrind.
#[cfg(target_arch = "x86_64")]
#[inline]
fn client_request(default: usize, request: usize, args: [usize; 5]) -> usize {
    let block: [usize; 6] = [request, args[0], args[1], args[2], args[3], args[4]];
    let mut result = default;
    // SAFETY: the sequence changes no state natively: the four rotations of `rdi` add up to
    // 128 bits (two full turns), so `rdi` ends as it began, and `xchg rbx, rbx` is a no-op;
    // only the flags change, which `asm!` assumes anyway (no `preserves_flags`). Under valgrind
    // the JIT replaces it with the request: valgrind reads the six words at `rax` (a live local
    // array, hence `readonly` and not `nomem`) and writes its answer to `rdx`, declared as an
    // in-out operand. Nothing else is touched, and no stack is used (`nostack`).
    unsafe {
        std::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") block.as_ptr(),
            inout("rdx") result,
            options(nostack, readonly),
        );
    }
    result
}

/// Sends the client request `request(args…)`; answers `default`: no valgrind support here.
#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn client_request(default: usize, _request: usize, _args: [usize; 5]) -> usize {
    default
}

/// Returns whether this process runs under valgrind (one client request: a few instructions
/// outside valgrind).
pub(crate) fn running_on_valgrind() -> bool {
    client_request(0, RUNNING_ON_VALGRIND, [0; 5]) != 0
}

/// A fiber stack registered with valgrind, deregistered on [`deregister`](Self::deregister) or
/// drop. Outside valgrind it holds nothing and deregistering does nothing.
#[derive(Debug)]
pub(crate) struct StackRegistration {
    /// valgrind's id for the stack, or [`NOT_REGISTERED`].
    id: usize,
}

impl StackRegistration {
    /// Registers the usable bytes of `stack` (not its guard page) as a stack. Deregister it as
    /// the stack goes back to its pool: a registration left behind for a recycled stack would
    /// overlap the next one's (valgrind takes the first match) and leak an entry of valgrind's.
    pub(crate) fn new(stack: &PooledStack) -> Self {
        let base = corosensei::stack::Stack::base(stack).get();
        // valgrind wants the lowest and the highest addressable byte, both inclusive.
        let lowest = base - stack.usable_size();
        let highest = base - 1;
        let id = client_request(NOT_REGISTERED, STACK_REGISTER, [lowest, highest, 0, 0, 0]);
        Self { id }
    }

    /// Tells valgrind the stack is no longer one; idempotent.
    pub(crate) fn deregister(&mut self) {
        let id = std::mem::replace(&mut self.id, NOT_REGISTERED);
        if id != NOT_REGISTERED {
            client_request(0, STACK_DEREGISTER, [id, 0, 0, 0, 0]);
        }
    }
}

impl Drop for StackRegistration {
    fn drop(&mut self) {
        self.deregister();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::fiber::StackPool;

    #[test]
    fn a_client_request_answers_its_default_outside_valgrind() {
        if running_on_valgrind() {
            return;
        }
        assert_eq!(client_request(42, RUNNING_ON_VALGRIND, [1, 2, 3, 4, 5]), 42);
    }

    /// Outside valgrind a registration holds nothing; under it (run the unit tests with
    /// `valgrind --tool=memcheck`), valgrind hands out an id, and deregistering forgets it.
    #[test]
    fn a_stack_is_registered_exactly_under_valgrind() {
        let pool = StackPool::new(64 * 1024, 1);
        let stack = pool.get().unwrap();
        let mut registration = StackRegistration::new(&stack);
        assert_eq!(registration.id != NOT_REGISTERED, running_on_valgrind());
        registration.deregister();
        assert_eq!(registration.id, NOT_REGISTERED);
        registration.deregister();
    }
}
