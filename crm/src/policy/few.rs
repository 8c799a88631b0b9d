//! A short list of indexes kept inline: a resource has two or three
//! actions, a lookup finds one or two, and the scheduler keeps or builds
//! such lists for every resource and every ordering, so they should not
//! each cost an allocation.

/// Up to `N` indexes inline, more on the heap, in insertion order; reads
/// as a slice.
#[derive(Debug, Clone)]
pub(super) enum Few<const N: usize> {
    /// The first `.0` entries are the list.
    Inline(u8, [usize; N]),
    /// The list, once longer than `N`.
    Heap(Vec<usize>),
}

impl<const N: usize> Few<N> {
    /// An empty list.
    pub fn new() -> Few<N> {
        Few::Inline(0, [0; N])
    }

    /// A list holding a copy of `values`.
    pub fn copied(values: &[usize]) -> Few<N> {
        if values.len() <= N {
            let mut items = [0; N];
            items[..values.len()].copy_from_slice(values);
            // At most N entries: N is small.
            Few::Inline(values.len() as u8, items)
        } else {
            Few::Heap(values.to_vec())
        }
    }

    /// Appends an index.
    pub fn push(&mut self, value: usize) {
        match self {
            Few::Inline(len, items) if usize::from(*len) < N => {
                items[usize::from(*len)] = value;
                *len += 1;
            }
            Few::Inline(_, items) => {
                let mut spilled = Vec::with_capacity(2 * N + 1);
                spilled.extend_from_slice(&items[..]);
                spilled.push(value);
                *self = Few::Heap(spilled);
            }
            Few::Heap(list) => list.push(value),
        }
    }

    /// The indexes, oldest first.
    pub fn as_slice(&self) -> &[usize] {
        match self {
            Few::Inline(len, items) => &items[..usize::from(*len)],
            Few::Heap(list) => list,
        }
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }
}

impl<const N: usize> Default for Few<N> {
    fn default() -> Few<N> {
        Few::new()
    }
}

impl<const N: usize> std::ops::Deref for Few<N> {
    type Target = [usize];

    fn deref(&self) -> &[usize] {
        self.as_slice()
    }
}

impl<const N: usize> std::ops::DerefMut for Few<N> {
    fn deref_mut(&mut self) -> &mut [usize] {
        match self {
            Few::Inline(len, items) => &mut items[..usize::from(*len)],
            Few::Heap(list) => list,
        }
    }
}

impl<'a, const N: usize> IntoIterator for &'a Few<N> {
    type Item = &'a usize;
    type IntoIter = std::slice::Iter<'a, usize>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<const N: usize> IntoIterator for Few<N> {
    type Item = usize;
    type IntoIter = FewIntoIter<N>;

    fn into_iter(self) -> FewIntoIter<N> {
        let back = self.as_slice().len();
        FewIntoIter {
            list: self,
            front: 0,
            back,
        }
    }
}

/// A [`Few`] taken apart, from either end.
#[derive(Debug)]
pub(super) struct FewIntoIter<const N: usize> {
    list: Few<N>,
    front: usize,
    back: usize,
}

impl<const N: usize> Iterator for FewIntoIter<N> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if self.front < self.back {
            self.front += 1;
            self.list.as_slice().get(self.front - 1).copied()
        } else {
            None
        }
    }
}

impl<const N: usize> DoubleEndedIterator for FewIntoIter<N> {
    fn next_back(&mut self) -> Option<usize> {
        if self.front < self.back {
            self.back -= 1;
            self.list.as_slice().get(self.back).copied()
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn copies_inline_or_spilled() {
        let mut f = Few::<3>::copied(&[5, 1, 4]);
        f.sort_unstable();
        assert_eq!(f.as_slice(), &[1, 4, 5]);
        assert_eq!(Few::<2>::copied(&[4, 5]).as_slice(), &[4, 5]);
        assert_eq!(Few::<2>::copied(&[4, 5, 6]).as_slice(), &[4, 5, 6]);
        assert!(matches!(Few::<2>::copied(&[4, 5]), Few::Inline(..)));
        assert!(Few::<2>::copied(&[]).is_empty());
    }

    #[test]
    fn keeps_order_inline_and_spilled() {
        let mut f = Few::<2>::new();
        assert!(f.is_empty());
        f.push(7);
        f.push(3);
        assert_eq!(f.as_slice(), &[7, 3]);
        assert!(matches!(f, Few::Inline(..)));
        f.push(9);
        f.push(1);
        assert_eq!(f.as_slice(), &[7, 3, 9, 1]);
        assert!(!f.is_empty());
        assert_eq!(f.len(), 4);
        assert!(f.contains(&9));
        assert_eq!((&f).into_iter().copied().sum::<usize>(), 20);
        assert_eq!(
            f.clone().into_iter().rev().collect::<Vec<_>>(),
            [1, 9, 3, 7]
        );
        let mut it = f.into_iter();
        assert_eq!(
            (it.next(), it.next_back(), it.next()),
            (Some(7), Some(1), Some(3))
        );
        assert_eq!(
            (it.next_back(), it.next(), it.next_back()),
            (Some(9), None, None)
        );
    }
}
