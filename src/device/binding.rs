//! Explicit bind group layouts, and bind groups cached across dispatches and steps.
//!
//! A dispatch binds its parameters (binding 0, a uniform in a parameter arena, `params.rs`)
//! and its storage buffers (bindings 1..=n). Pipelines used to take wgpu's automatic layout,
//! whose bind group layouts belong to one pipeline and take no dynamic offsets, so each
//! dispatch created a bind group for its own arena slot. Here every entry point gets an
//! explicit layout shared by all entries of the same [`Signature`], with the uniform bound at
//! a dynamic offset: a bind group then depends on the layout, the arena and the buffers only,
//! and a training loop whose tensors cycle through the same pooled buffers finds its bind
//! groups in the cache from the second step on.
//!
//! Buffer identity: a cache key holds the buffers' wgpu handles, so no buffer it names can be
//! destroyed and its id reused while the entry lives; the pool hands a freed buffer to later
//! tensors of its size class, perhaps with another length, so the key holds each binding's
//! length too. Entries only keep buffers the pool still holds (it drops none but on `trim`,
//! which clears the cache) and the cache is cleared when it passes [`MAX_BIND_GROUPS`].

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

/// Bind groups kept before the cache starts over (a training step needs a few hundred).
pub(super) const MAX_BIND_GROUPS: usize = 8192;

/// Storage buffers one signature can describe.
const MAX_BUFFERS: usize = 16;

/// What one entry point binds: a uniform of `uniform` bytes at binding 0 (dynamic offset)
/// and `buffers` storage buffers at 1..=n, bit i of `read_only` set when binding i + 1 is
/// declared `var<storage, read>`, and `min[i]` its smallest size in bytes (one element of its
/// array; 0 where the source does not say simply, and wgpu checks at the dispatch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Signature {
    pub(super) uniform: u64,
    pub(super) buffers: usize,
    pub(super) read_only: u64,
    pub(super) min: [u8; MAX_BUFFERS],
}

impl Signature {
    /// The signature of an entry point of `source` with `buffers` storage buffers and a
    /// parameter struct of `params` bytes (padded to 16, as the arenas store it).
    /// `None` for more than [`MAX_BUFFERS`] buffers.
    pub(super) fn of(source: &str, buffers: usize, params: usize) -> Option<Signature> {
        if buffers > MAX_BUFFERS {
            return None;
        }
        let mut read_only = 0;
        let mut min = [0; MAX_BUFFERS];
        for b in 1..=buffers {
            if let Some((space, ty)) = declaration(source, b) {
                if space == "storage,read" || space == "storage" {
                    read_only |= 1 << (b - 1);
                }
                min[b - 1] = element_bytes(&ty);
            }
        }
        Some(Signature {
            uniform: padded_params(params) as u64,
            buffers,
            read_only,
            min,
        })
    }

    pub(super) fn read_only(&self, i: usize) -> bool {
        self.read_only & (1 << i) != 0
    }
}

/// The size of a parameter block as bound: a multiple of 16, at least 16.
pub(super) fn padded_params(size: usize) -> usize {
    size.next_multiple_of(16).max(16)
}

/// The address space (`storage,read`, whitespace removed) and type (`array<f32>`) that
/// `source` declares at `@binding(b)`, if it does. A binding the source does not declare is
/// taken as read-write: the entry does not use it, and a pipeline whose shader wants what the
/// layout lacks fails to build (under an error scope, naming the kernel).
fn declaration(source: &str, b: usize) -> Option<(String, String)> {
    let tag = format!("@binding({b})");
    let squeeze = |t: &str| -> String { t.chars().filter(|c| !c.is_whitespace()).collect() };
    source.match_indices(&tag).find_map(|(at, _)| {
        let rest = &source[at + tag.len()..];
        let open = rest.find("var<")?;
        let close = open + rest[open..].find('>')?;
        let end = close + rest[close..].find(';')?;
        let ty = rest[close + 1..end].split_once(':')?.1;
        Some((squeeze(&rest[open + 4..close]), squeeze(ty)))
    })
}

/// Bytes of one element of a runtime-sized array type of scalars or vectors (the least a
/// binding of it may hold); 0 for anything else.
fn element_bytes(ty: &str) -> u8 {
    match ty {
        "array<f32>" | "array<u32>" | "array<i32>" => 4,
        "array<vec2<f32>>" | "array<vec2<u32>>" => 8,
        "array<vec4<f32>>" | "array<vec4<u32>>" | "array<vec3<f32>>" => 16,
        _ => 0,
    }
}

/// A signature's bind group layout and the pipeline layout around it.
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) signature: Signature,
    pub(super) bind_group: wgpu::BindGroupLayout,
    pub(super) pipeline: wgpu::PipelineLayout,
}

/// A built pipeline and its layout.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    pub(super) raw: wgpu::ComputePipeline,
    pub(super) layout: Arc<Layout>,
}

#[derive(PartialEq, Eq, Hash)]
struct Key {
    signature: Signature,
    arena: wgpu::Buffer,
    buffers: Vec<(wgpu::Buffer, u64)>,
}

/// The layouts by signature and the cached bind groups.
#[derive(Default)]
pub(crate) struct Bindings {
    layouts: HashMap<Signature, Arc<Layout>>,
    groups: HashMap<Key, wgpu::BindGroup>,
    /// Bind groups created so far (cache misses), for tests and measurements.
    pub(super) created: u64,
}

impl Bindings {
    /// The layout for `signature`, created on first use. Layout creation cannot fail
    /// validation for the signatures built here (at most 64 storage buffers are asked for
    /// only where the device allows them; the pipeline that uses it reports otherwise).
    pub(super) fn layout(&mut self, device: &wgpu::Device, signature: Signature) -> Arc<Layout> {
        self.layouts
            .entry(signature)
            .or_insert_with(|| {
                let mut entries = vec![wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: true,
                        min_binding_size: NonZeroU64::new(signature.uniform),
                    },
                    count: None,
                }];
                entries.extend((0..signature.buffers).map(|i| wgpu::BindGroupLayoutEntry {
                    binding: i as u32 + 1,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage {
                            read_only: signature.read_only(i),
                        },
                        has_dynamic_offset: false,
                        // Checked against the shader when the pipeline is built, and against
                        // each buffer when a bind group is, rather than at every dispatch.
                        min_binding_size: NonZeroU64::new(u64::from(signature.min[i])),
                    },
                    count: None,
                }));
                let bind_group =
                    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                        label: Some("wgfit"),
                        entries: &entries,
                    });
                let pipeline = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some("wgfit"),
                    bind_group_layouts: &[Some(&bind_group)],
                    immediate_size: 0,
                });
                Arc::new(Layout {
                    signature,
                    bind_group,
                    pipeline,
                })
            })
            .clone()
    }

    /// The cached bind group for `layout`, `arena` (bound at offset 0, the slot given as the
    /// dynamic offset) and `buffers` (each bound over its first `bytes`), if any.
    pub(super) fn get(
        &self,
        layout: &Layout,
        arena: &wgpu::Buffer,
        buffers: &[(&wgpu::Buffer, u64)],
    ) -> Option<wgpu::BindGroup> {
        // Built only to look up: the handles are reference-counted clones.
        let key = key(layout, arena, buffers);
        self.groups.get(&key).cloned()
    }

    /// Keeps a bind group created for these bindings.
    pub(super) fn insert(
        &mut self,
        layout: &Layout,
        arena: &wgpu::Buffer,
        buffers: &[(&wgpu::Buffer, u64)],
        group: wgpu::BindGroup,
    ) {
        if self.groups.len() >= MAX_BIND_GROUPS {
            self.groups.clear();
        }
        self.created += 1;
        self.groups.insert(key(layout, arena, buffers), group);
    }

    /// Forgets every bind group (and with them the buffers they hold): the pool is dropping
    /// buffers.
    pub(super) fn clear(&mut self) {
        self.groups.clear();
    }

    #[cfg(test)]
    pub(super) fn cached(&self) -> usize {
        self.groups.len()
    }
}

fn key(layout: &Layout, arena: &wgpu::Buffer, buffers: &[(&wgpu::Buffer, u64)]) -> Key {
    Key {
        signature: layout.signature,
        arena: arena.clone(),
        buffers: buffers.iter().map(|&(b, n)| (b.clone(), n)).collect(),
    }
}

/// Creates the bind group for `layout` over `arena` and `buffers`.
pub(super) fn create(
    device: &wgpu::Device,
    layout: &Layout,
    arena: &wgpu::Buffer,
    buffers: &[(&wgpu::Buffer, u64)],
) -> wgpu::BindGroup {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: arena,
            offset: 0,
            size: NonZeroU64::new(layout.signature.uniform),
        }),
    }];
    entries.extend(
        buffers
            .iter()
            .enumerate()
            .map(|(i, &(buffer, bytes))| wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset: 0,
                    size: NonZeroU64::new(bytes),
                }),
            }),
    );
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("wgfit"),
        layout: &layout.bind_group,
        entries: &entries,
    })
}

#[cfg(test)]
mod tests {
    use super::{Signature, padded_params};

    #[test]
    fn signatures_read_each_binding_s_access_from_the_source() {
        let src = "@group(0) @binding(0) var<uniform> p: Params;
                   @group(0) @binding(1) var<storage, read> x: array<f32>;
                   @group(0) @binding(2) var<storage,read_write> out: array<f32>;
                   @group(0)
                   @binding(3)
                   var<storage> y: array< vec4<f32> >;
                   @group(0) @binding(11) var<storage, read_write> z: array<f32>;";
        let s = Signature::of(src, 4, 24).unwrap();
        assert_eq!(s.uniform, 32);
        assert_eq!(s.buffers, 4);
        assert!(s.read_only(0) && !s.read_only(1) && s.read_only(2));
        // binding 4 is not declared (and @binding(11) is not @binding(1)): read-write
        assert!(!s.read_only(3));
        assert_eq!(s.min[..4], [4, 4, 16, 0]);
        assert_eq!(Signature::of(src, 1, 0).unwrap().uniform, 16);
        assert!(Signature::of(src, 17, 0).is_none());
        assert_eq!(padded_params(16), 16);
        assert_eq!(padded_params(17), 32);
    }
}
