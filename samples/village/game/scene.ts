/// <reference lib="dom" />
// The village, built from primitives (no external assets): grass and a dirt square, houses with gable roofs,
// a well in the middle, the smithy's forge and anvil by the blacksmith, the inn with its hanging sign by
// the innkeeper, a gate with the guard, fences round the edge, trees, barrels and crates. Every solid thing
// also gets a fixed collider in the physics world, including the parts above the player's head (roofs,
// chimneys, the gate's beam, the inn's sign): the player never reaches them, the camera would.

import * as THREE from "three";
import type { VillagePhysics } from "./physics.js";

export const SKY_COLOR = 0x9ec9e8;

/**
 * The inn's name, as its sign shows it. The innkeeper's character data (characters/innkeeper.json) names
 * it in her description, greeting and knowledge; test/samples/village/game.test.ts holds the two together.
 */
export const INN_NAME = "The Drowsy Badger";

/** The sign's two lines: the name's words split as evenly as they go. */
export function signLines(name: string): [string, string] {
  const words = name.split(/\s+/).filter((w) => w !== "");
  if (words.length < 2) return [name, ""];
  let best = 1;
  for (let i = 1; i < words.length; i++) {
    const diff = (a: number) => Math.abs(words.slice(0, a).join(" ").length - words.slice(a).join(" ").length);
    if (diff(i) < diff(best)) best = i;
  }
  return [words.slice(0, best).join(" "), words.slice(best).join(" ")];
}

export interface Village {
  scene: THREE.Scene;
  sun: THREE.DirectionalLight;
  /** Per frame: the forge's glow flickers. */
  update(dt: number, time: number): void;
}

interface HouseSpec {
  x: number;
  z: number;
  width: number;
  depth: number;
  height: number;
  wall: number;
  roof: number;
  /** Which side has the door: +1 faces +Z, -1 faces -Z; sideways doors face ±X. */
  door: "+z" | "-z" | "+x" | "-x";
}

const HOUSES: HouseSpec[] = [
  { x: -13.5, z: -7.5, width: 6, depth: 5, height: 3.2, wall: 0x8d7f71, roof: 0x4a3f39, door: "+x" }, // smithy
  { x: 12.5, z: -12.5, width: 8, depth: 6, height: 4.6, wall: 0xd9c7a1, roof: 0x8c3b2c, door: "-x" }, // inn
  { x: -14, z: 6.5, width: 5, depth: 5, height: 3, wall: 0xe3d7bd, roof: 0x6d4c3d, door: "+x" },
  { x: 14, z: 5, width: 5, depth: 6, height: 3.2, wall: 0xcfc1a8, roof: 0x5b6b45, door: "-x" },
  { x: -2, z: -16, width: 6, depth: 5, height: 3.6, wall: 0xded0b4, roof: 0x7a4a33, door: "+z" },
];

const TREES: Array<[number, number, number]> = [
  [-6, 7, 1],
  [7.5, 9.5, 1.2],
  [-17.5, -1, 1.1],
  [17.5, -3.5, 0.9],
  [-7.5, -13, 1.15],
  [6.5, -17.5, 1],
  [-17, 15.5, 1.3],
  [17, 16, 1.1],
  [-10.5, 17, 0.9],
  [11.5, 18, 1],
  [-18, -17, 1.2],
  [18, -18.5, 1.05],
];

/** A mesh that casts and receives shadows, placed at (x, y, z) in `parent`. */
function addMesh(parent: THREE.Object3D, geometry: THREE.BufferGeometry, material: THREE.Material, x: number, y: number, z: number): THREE.Mesh {
  const mesh = new THREE.Mesh(geometry, material);
  mesh.position.set(x, y, z);
  mesh.castShadow = true;
  mesh.receiveShadow = true;
  parent.add(mesh);
  return mesh;
}

export function buildVillage(physics: VillagePhysics): Village {
  const scene = new THREE.Scene();
  scene.background = new THREE.Color(SKY_COLOR);
  scene.fog = new THREE.Fog(SKY_COLOR, 35, 95);

  // Lights: sky/ground fill and a low afternoon sun with shadows.
  scene.add(new THREE.HemisphereLight(0xdfefff, 0x5a6b3a, 1.4));
  const sun = new THREE.DirectionalLight(0xfff1d6, 2.4);
  sun.position.set(18, 30, 14);
  sun.castShadow = true;
  sun.shadow.mapSize.set(2048, 2048);
  const sc = sun.shadow.camera;
  sc.left = -34;
  sc.right = 34;
  sc.top = 34;
  sc.bottom = -34;
  sc.near = 1;
  sc.far = 90;
  sun.shadow.bias = -0.0005;
  scene.add(sun);
  scene.add(sun.target);

  const mat = (color: number, extra: THREE.MeshStandardMaterialParameters = {}) =>
    new THREE.MeshStandardMaterial({ color, roughness: 0.9, metalness: 0, flatShading: true, ...extra });

  const add = (geometry: THREE.BufferGeometry, material: THREE.Material, x: number, y: number, z: number) => addMesh(scene, geometry, material, x, y, z);

  // Ground: grass, a dirt square round the well and paths to the gate, the smithy and the inn.
  const grass = new THREE.Mesh(new THREE.PlaneGeometry(160, 160), mat(0x6f9a4a));
  grass.rotation.x = -Math.PI / 2;
  grass.receiveShadow = true;
  scene.add(grass);
  const dirt = mat(0xb09468);
  const square = new THREE.Mesh(new THREE.CircleGeometry(9, 40), dirt);
  square.rotation.x = -Math.PI / 2;
  square.position.y = 0.01;
  square.receiveShadow = true;
  scene.add(square);
  const path = (x1: number, z1: number, x2: number, z2: number, width: number) => {
    const length = Math.hypot(x2 - x1, z2 - z1);
    const strip = new THREE.Mesh(new THREE.PlaneGeometry(width, length), dirt);
    strip.rotation.x = -Math.PI / 2;
    strip.rotation.z = Math.atan2(x2 - x1, z2 - z1);
    strip.position.set((x1 + x2) / 2, 0.012, (z1 + z2) / 2);
    strip.receiveShadow = true;
    scene.add(strip);
  };
  path(0, 0, 0, 20, 3);
  path(0, 0, -10.5, -7, 2.6);
  path(0, 0, 8.5, -12, 2.6);
  path(0, 0, 0, -13.5, 2.4);

  // Houses: walls, a gable roof, a door and windows.
  for (const h of HOUSES) addHouse(scene, physics, h, mat);

  // The well in the middle of the square.
  {
    const stone = mat(0x8a8a86);
    add(new THREE.CylinderGeometry(1.05, 1.1, 0.85, 14), stone, 0, 0.425, -3);
    const water = new THREE.Mesh(new THREE.CircleGeometry(0.82, 14), mat(0x2d5a7a, { roughness: 0.2 }));
    water.rotation.x = -Math.PI / 2;
    water.position.set(0, 0.86, -3);
    scene.add(water);
    const wood = mat(0x6b4a2f);
    add(new THREE.BoxGeometry(0.14, 2.1, 0.14), wood, -0.95, 1.05, -3);
    add(new THREE.BoxGeometry(0.14, 2.1, 0.14), wood, 0.95, 1.05, -3);
    add(new THREE.BoxGeometry(2.1, 0.1, 0.1), wood, 0, 1.75, -3);
    const roof = add(new THREE.ConeGeometry(1.6, 0.8, 4), mat(0x7a3b2a), 0, 2.45, -3);
    roof.rotation.y = Math.PI / 4;
    physics.addCylinder(0, -3, 1.12, 2.2);
    // The roof: a four-sided cone turned square to the axes, 1.6 m to its corners.
    physics.addBox({ x: 0, y: 2.45, z: -3 }, { x: 1.14, y: 0.4, z: 1.14 });
  }

  // The smithy's forge (glowing coals) and an anvil by the blacksmith.
  const forgeLight = new THREE.PointLight(0xff7a2a, 6, 7, 1.6);
  {
    const stone = mat(0x5d5a57);
    add(new THREE.BoxGeometry(1.8, 1, 1.4), stone, -10.6, 0.5, -5.4);
    const coals = new THREE.Mesh(
      new THREE.BoxGeometry(1.3, 0.08, 0.9),
      new THREE.MeshStandardMaterial({ color: 0xff5a1a, emissive: 0xff4a10, emissiveIntensity: 2 }),
    );
    coals.position.set(-10.6, 1.04, -5.4);
    scene.add(coals);
    add(new THREE.BoxGeometry(0.7, 2.6, 0.7), stone, -11.1, 2.3, -5.7);
    forgeLight.position.set(-10.6, 1.6, -5.2);
    scene.add(forgeLight);
    physics.addBox({ x: -10.6, y: 1.8, z: -5.4 }, { x: 0.9, y: 1.8, z: 0.7 });

    const iron = mat(0x3a3b3f, { metalness: 0.6, roughness: 0.45 });
    add(new THREE.BoxGeometry(0.4, 0.5, 0.4), mat(0x5b3d24), -9.6, 0.25, -2.3);
    add(new THREE.BoxGeometry(0.8, 0.25, 0.35), iron, -9.6, 0.62, -2.3);
    physics.addBox({ x: -9.6, y: 0.4, z: -2.3 }, { x: 0.42, y: 0.4, z: 0.25 });
    // A rack of blades against the smithy wall.
    const rack = add(new THREE.BoxGeometry(0.15, 1.2, 1.6), mat(0x6b4a2f), -10.35, 0.6, -8.6);
    rack.rotation.y = 0.2;
    physics.addBox({ x: -10.35, y: 0.6, z: -8.6 }, { x: 0.15, y: 0.6, z: 0.8 }, 0.2);
  }

  // The inn's hanging sign on a post, by the innkeeper; barrels and crates by the door.
  {
    const wood = mat(0x5e4129);
    add(new THREE.BoxGeometry(0.18, 3.2, 0.18), wood, 8.2, 1.6, -7.6);
    add(new THREE.BoxGeometry(1.4, 0.12, 0.12), wood, 7.6, 3.05, -7.6);
    const sign = new THREE.Mesh(new THREE.BoxGeometry(1.2, 0.7, 0.06), [
      wood,
      wood,
      wood,
      wood,
      new THREE.MeshStandardMaterial({ map: signTexture(...signLines(INN_NAME)) }),
      wood,
    ]);
    sign.position.set(7.5, 2.55, -7.6);
    sign.rotation.y = -Math.PI / 4;
    sign.castShadow = true;
    scene.add(sign);
    physics.addCylinder(8.2, -7.6, 0.15, 3.2);
    physics.addBox({ x: 7.6, y: 3.05, z: -7.6 }, { x: 0.7, y: 0.06, z: 0.06 });
    physics.addBox({ x: 7.5, y: 2.55, z: -7.6 }, { x: 0.6, y: 0.35, z: 0.03 }, -Math.PI / 4);

    const barrel = mat(0x7b5230);
    for (const [x, z] of [
      [9.4, -8.2],
      [10.2, -8.0],
      [9.8, -7.3],
    ] as const) {
      add(new THREE.CylinderGeometry(0.38, 0.38, 0.95, 12), barrel, x, 0.475, z);
      physics.addCylinder(x, z, 0.4, 0.95);
    }
    const crate = mat(0xa07a4a);
    add(new THREE.BoxGeometry(0.8, 0.8, 0.8), crate, 4.2, 0.4, -9.4);
    add(new THREE.BoxGeometry(0.6, 0.6, 0.6), crate, 4.25, 1.1, -9.35);
    physics.addBox({ x: 4.2, y: 0.7, z: -9.4 }, { x: 0.4, y: 0.7, z: 0.4 });
  }

  // The gate the guard keeps, and the fence round the village.
  {
    const wood = mat(0x6b4a2f);
    for (const x of [-2.4, 2.4]) {
      add(new THREE.BoxGeometry(0.4, 3.4, 0.4), wood, x, 1.7, 13);
      physics.addBox({ x, y: 1.7, z: 13 }, { x: 0.2, y: 1.7, z: 0.2 });
    }
    add(new THREE.BoxGeometry(5.4, 0.35, 0.45), wood, 0, 3.3, 13);
    // The beam over the gate: well above the player, and right where the camera passes walking through.
    physics.addBox({ x: 0, y: 3.3, z: 13 }, { x: 2.7, y: 0.175, z: 0.225 });
    // A lantern post by the guard.
    add(new THREE.BoxGeometry(0.14, 2.4, 0.14), mat(0x333333), 2.1, 1.2, 9.2);
    const lantern = new THREE.Mesh(
      new THREE.BoxGeometry(0.3, 0.35, 0.3),
      new THREE.MeshStandardMaterial({ color: 0xffd27a, emissive: 0xffb84a, emissiveIntensity: 1.2 }),
    );
    lantern.position.set(2.1, 2.55, 9.2);
    scene.add(lantern);
    physics.addCylinder(2.1, 9.2, 0.12, 2.4);
    physics.addBox({ x: 2.1, y: 2.55, z: 9.2 }, { x: 0.15, y: 0.175, z: 0.15 });

    const fence = (x1: number, z1: number, x2: number, z2: number) => {
      const length = Math.hypot(x2 - x1, z2 - z1);
      const yaw = Math.atan2(z2 - z1, x2 - x1);
      for (const y of [0.45, 0.85]) {
        const rail = add(new THREE.BoxGeometry(length, 0.1, 0.08), wood, (x1 + x2) / 2, y, (z1 + z2) / 2);
        rail.rotation.y = -yaw;
      }
      const posts = Math.max(1, Math.round(length / 2));
      for (let i = 0; i <= posts; i++) {
        const t = i / posts;
        add(new THREE.BoxGeometry(0.14, 1.1, 0.14), wood, x1 + (x2 - x1) * t, 0.55, z1 + (z2 - z1) * t);
      }
      physics.addBox({ x: (x1 + x2) / 2, y: 0.75, z: (z1 + z2) / 2 }, { x: length / 2, y: 0.75, z: 0.08 }, -yaw);
    };
    fence(-21, 13, -2.6, 13);
    fence(2.6, 13, 21, 13);
    fence(-21, 13, -21, -21);
    fence(21, 13, 21, -21);
    fence(-21, -21, 21, -21);
  }

  // Trees: a trunk and two cones of leaves. The leaves hang low enough to walk into; only the camera
  // bumps into them.
  {
    const bark = mat(0x5a3d26);
    const leaves = [mat(0x3f7a35), mat(0x4c8a3c)];
    for (const [x, z, s] of TREES) {
      add(new THREE.CylinderGeometry(0.18 * s, 0.26 * s, 1.6 * s, 8), bark, x, 0.8 * s, z);
      add(new THREE.ConeGeometry(1.5 * s, 2.4 * s, 8), leaves[0]!, x, 2.4 * s, z);
      add(new THREE.ConeGeometry(1.1 * s, 1.9 * s, 8), leaves[1]!, x, 3.4 * s, z);
      physics.addCylinder(x, z, 0.3 * s, 3 * s);
      physics.addCone({ x, y: 2.4 * s, z }, 1.5 * s, 2.4 * s, { cameraOnly: true });
      physics.addCone({ x, y: 3.4 * s, z }, 1.1 * s, 1.9 * s, { cameraOnly: true });
    }
  }

  // Hills beyond the fence, for a horizon.
  {
    const hill = mat(0x5f8a44);
    for (let i = 0; i < 14; i++) {
      const a = (i / 14) * Math.PI * 2;
      const r = 48 + (i % 3) * 6;
      const mesh = new THREE.Mesh(new THREE.SphereGeometry(10 + (i % 4) * 3, 10, 6), hill);
      mesh.position.set(Math.cos(a) * r, -3, Math.sin(a) * r);
      mesh.scale.y = 0.55;
      scene.add(mesh);
    }
  }

  return {
    scene,
    sun,
    update(_dt, time) {
      forgeLight.intensity = 5 + Math.sin(time * 13) * 0.8 + Math.sin(time * 7.3) * 0.6;
    },
  };
}

function addHouse(
  scene: THREE.Scene,
  physics: VillagePhysics,
  h: HouseSpec,
  mat: (color: number, extra?: THREE.MeshStandardMaterialParameters) => THREE.MeshStandardMaterial,
): void {
  const group = new THREE.Group();
  group.position.set(h.x, 0, h.z);
  scene.add(group);
  const part = (geometry: THREE.BufferGeometry, material: THREE.Material, x: number, y: number, z: number) => addMesh(group, geometry, material, x, y, z);

  part(new THREE.BoxGeometry(h.width, h.height, h.depth), mat(h.wall), 0, h.height / 2, 0);
  // Timber frame at the corners.
  const beam = mat(0x4b3322);
  for (const sx of [-1, 1]) {
    for (const sz of [-1, 1]) {
      part(new THREE.BoxGeometry(0.22, h.height, 0.22), beam, (sx * h.width) / 2, h.height / 2, (sz * h.depth) / 2);
    }
  }
  // Gable roof: a triangular prism along the longer side, overhanging a little.
  const alongX = h.width >= h.depth;
  const span = (alongX ? h.depth : h.width) + 0.7;
  const length = (alongX ? h.width : h.depth) + 0.7;
  const rise = span * 0.45;
  const shape = new THREE.Shape();
  shape.moveTo(-span / 2, 0);
  shape.lineTo(span / 2, 0);
  shape.lineTo(0, rise);
  shape.closePath();
  const roofGeometry = new THREE.ExtrudeGeometry(shape, { depth: length, bevelEnabled: false });
  roofGeometry.translate(0, 0, -length / 2);
  const roof = part(roofGeometry, mat(h.roof), 0, h.height, 0);
  if (alongX) roof.rotation.y = Math.PI / 2;
  // A chimney.
  const chimneyY = h.height + rise / 2 + 0.3;
  part(new THREE.BoxGeometry(0.6, rise + 0.8, 0.6), mat(0x7d6f66), h.width * 0.25, chimneyY, 0);

  // Door and windows on the front.
  const front = doorFrame(h);
  const door = part(new THREE.BoxGeometry(1.1, 2, 0.08), mat(0x4e3420), 0, 1, 0);
  door.position.set(front.x, 1, front.z);
  door.rotation.y = front.yaw;
  const glass = mat(0x2f3e4f, { roughness: 0.3, emissive: 0x1a1408 });
  for (const offset of [-1, 1]) {
    const w = part(new THREE.BoxGeometry(0.8, 0.7, 0.08), glass, 0, 0, 0);
    const side = offset * Math.min(1.8, (front.along - 1.2) / 2);
    w.position.set(front.x + front.tx * side, 1.7, front.z + front.tz * side);
    w.rotation.y = front.yaw;
  }

  physics.addBox({ x: h.x, y: (h.height + rise) / 2, z: h.z }, { x: h.width / 2, y: (h.height + rise) / 2, z: h.depth / 2 });
  // The corner beams stand 0.11 m proud of the walls.
  for (const sx of [-1, 1]) {
    for (const sz of [-1, 1]) {
      physics.addBox({ x: h.x + (sx * h.width) / 2, y: h.height / 2, z: h.z + (sz * h.depth) / 2 }, { x: 0.11, y: h.height / 2, z: 0.11 });
    }
  }
  // The roof overhangs the walls by 0.35 m all round, and the chimney stands above the ridge.
  physics.addBox({ x: h.x, y: h.height + rise / 2, z: h.z }, { x: h.width / 2 + 0.35, y: rise / 2, z: h.depth / 2 + 0.35 });
  physics.addBox({ x: h.x + h.width * 0.25, y: chimneyY, z: h.z }, { x: 0.3, y: (rise + 0.8) / 2, z: 0.3 });
}

/** Where the door goes (in the house's frame), its yaw, the wall's tangent and length. */
function doorFrame(h: HouseSpec): { x: number; z: number; yaw: number; tx: number; tz: number; along: number } {
  const e = 0.03;
  switch (h.door) {
    case "+z":
      return { x: 0, z: h.depth / 2 + e, yaw: 0, tx: 1, tz: 0, along: h.width };
    case "-z":
      return { x: 0, z: -h.depth / 2 - e, yaw: 0, tx: 1, tz: 0, along: h.width };
    case "+x":
      return { x: h.width / 2 + e, z: 0, yaw: Math.PI / 2, tx: 0, tz: 1, along: h.depth };
    case "-x":
      return { x: -h.width / 2 - e, z: 0, yaw: Math.PI / 2, tx: 0, tz: 1, along: h.depth };
  }
}

function signTexture(line1: string, line2: string): THREE.Texture {
  const canvas = document.createElement("canvas");
  canvas.width = 256;
  canvas.height = 150;
  const ctx = canvas.getContext("2d")!;
  ctx.fillStyle = "#3b2616";
  ctx.fillRect(0, 0, 256, 150);
  ctx.strokeStyle = "#d8b25a";
  ctx.lineWidth = 6;
  ctx.strokeRect(6, 6, 244, 138);
  ctx.fillStyle = "#f1d58a";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.font = "bold 34px Georgia, serif";
  ctx.fillText(line1, 128, 52);
  ctx.fillText(line2, 128, 100);
  const texture = new THREE.CanvasTexture(canvas);
  texture.colorSpace = THREE.SRGBColorSpace;
  return texture;
}
